-- Issue 12 (SPEC §2.2, §8): what the last sign-in's identity provider vouched for.
ALTER TABLE users ADD COLUMN assurance TEXT NOT NULL DEFAULT '[]';   -- JSON array of URIs
ALTER TABLE users ADD COLUMN two_factor BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN identity_provider TEXT;
ALTER TABLE users ADD COLUMN site_username TEXT;
