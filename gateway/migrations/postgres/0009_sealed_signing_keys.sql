-- Private signing keys move into the database, sealed with AES-256-GCM under the key-encryption key
-- (SPEC §10): version ‖ nonce ‖ ciphertext ‖ tag, the kid bound as associated data. NULL for a key
-- whose legacy file is not imported yet, and for a revoked key.
ALTER TABLE signing_keys ADD COLUMN private_key BYTEA;
