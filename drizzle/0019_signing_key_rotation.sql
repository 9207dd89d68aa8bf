ALTER TABLE "signing_keys" ADD COLUMN "signs_from" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "signing_keys" ADD COLUMN "retires_at" timestamp with time zone;