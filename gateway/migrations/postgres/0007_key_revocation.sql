-- A revoked signing key leaves the JWK Set at once and never signs again (SPEC §2).
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
