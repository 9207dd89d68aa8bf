-- A refresh token's successor, sealed under a key derived from the token it succeeds (which only its
-- holder has): a client whose refresh response was lost retries with the predecessor and gets the
-- same successor again (src/auth/sealed-successor.ts). Cleared when the successor is spent.
ALTER TABLE "refresh_tokens" ADD COLUMN "sealed_for_parent" text;
