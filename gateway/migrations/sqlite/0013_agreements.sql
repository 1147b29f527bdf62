-- Issue 13 (SPEC §9): every acceptance of a gateway agreement (kind 'gateway', subject = the
-- agreement's id) or of a provider's terms (kind 'provider', subject = the provider's id), per version.
CREATE TABLE agreement_acceptances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    version TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    UNIQUE (user_id, kind, subject, version)
);

-- Replicas cache each user's acceptances: a new one reaches them through the change feed.
CREATE TRIGGER agreement_acceptances_insert_feed AFTER INSERT ON agreement_acceptances BEGIN
    INSERT INTO change_feed (what) VALUES ('agreements:' || NEW.user_id);
END;
CREATE TRIGGER agreement_acceptances_delete_feed AFTER DELETE ON agreement_acceptances BEGIN
    INSERT INTO change_feed (what) VALUES ('agreements:' || OLD.user_id);
END;
