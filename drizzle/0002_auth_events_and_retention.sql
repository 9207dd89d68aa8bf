CREATE TABLE "auth_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "auth_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"type" text NOT NULL,
	"user_id" uuid,
	"session_id" uuid,
	"reason" text,
	"ip" text,
	"user_agent" text,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "auth_events_user_id_occurred_at_idx" ON "auth_events" USING btree ("user_id","occurred_at");--> statement-breakpoint
CREATE INDEX "auth_events_occurred_at_idx" ON "auth_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "refresh_tokens_spent_at_idx" ON "refresh_tokens" USING btree ("spent_at");