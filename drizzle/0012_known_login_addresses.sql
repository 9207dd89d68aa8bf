CREATE TABLE "known_login_addresses" (
	"key" text PRIMARY KEY NOT NULL,
	"expire" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "known_login_addresses_expire_idx" ON "known_login_addresses" USING btree ("expire");