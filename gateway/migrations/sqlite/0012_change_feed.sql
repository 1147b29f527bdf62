-- The change feed (SPEC §10) on SQLite: every change to something the serving process caches appends
-- 'kind:key' to change_feed in the transaction that makes it, so `gateway` CLI commands run beside
-- `serve` reach it too. The serving process reads new rows every 200 ms and deletes what it read.
CREATE TABLE change_feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    what TEXT NOT NULL
);

CREATE TRIGGER sessions_update_feed AFTER UPDATE ON sessions BEGIN
    INSERT INTO change_feed (what) VALUES ('credential:' || NEW.token_hash);
END;
CREATE TRIGGER sessions_delete_feed AFTER DELETE ON sessions BEGIN
    INSERT INTO change_feed (what) VALUES ('credential:' || OLD.token_hash);
END;
CREATE TRIGGER api_tokens_update_feed AFTER UPDATE ON api_tokens BEGIN
    INSERT INTO change_feed (what) VALUES ('credential:' || NEW.token_hash);
END;
CREATE TRIGGER api_tokens_delete_feed AFTER DELETE ON api_tokens BEGIN
    INSERT INTO change_feed (what) VALUES ('credential:' || OLD.token_hash);
END;
CREATE TRIGGER users_update_feed AFTER UPDATE ON users BEGIN
    INSERT INTO change_feed (what) VALUES ('user:' || NEW.id);
END;
CREATE TRIGGER users_delete_feed AFTER DELETE ON users BEGIN
    INSERT INTO change_feed (what) VALUES ('user:' || OLD.id);
END;
CREATE TRIGGER account_states_insert_feed AFTER INSERT ON account_states BEGIN
    INSERT INTO change_feed (what) VALUES ('user:' || NEW.user_id);
END;
CREATE TRIGGER account_states_update_feed AFTER UPDATE ON account_states BEGIN
    INSERT INTO change_feed (what) VALUES ('user:' || NEW.user_id);
END;
CREATE TRIGGER account_states_delete_feed AFTER DELETE ON account_states BEGIN
    INSERT INTO change_feed (what) VALUES ('user:' || OLD.user_id);
END;
CREATE TRIGGER providers_insert_feed AFTER INSERT ON providers BEGIN
    INSERT INTO change_feed (what) VALUES ('provider:' || NEW.id);
END;
CREATE TRIGGER providers_update_feed AFTER UPDATE ON providers BEGIN
    INSERT INTO change_feed (what) VALUES ('provider:' || NEW.id);
END;
CREATE TRIGGER providers_delete_feed AFTER DELETE ON providers BEGIN
    INSERT INTO change_feed (what) VALUES ('provider:' || OLD.id);
END;
CREATE TRIGGER provider_manifests_insert_feed AFTER INSERT ON provider_manifests BEGIN
    INSERT INTO change_feed (what) VALUES ('manifest:' || NEW.provider_id);
END;
CREATE TRIGGER provider_manifests_update_feed AFTER UPDATE ON provider_manifests BEGIN
    INSERT INTO change_feed (what) VALUES ('manifest:' || NEW.provider_id);
END;
CREATE TRIGGER provider_manifests_delete_feed AFTER DELETE ON provider_manifests BEGIN
    INSERT INTO change_feed (what) VALUES ('manifest:' || OLD.provider_id);
END;
CREATE TRIGGER signing_keys_insert_feed AFTER INSERT ON signing_keys BEGIN
    INSERT INTO change_feed (what) VALUES ('keys:' || NEW.kid);
END;
CREATE TRIGGER signing_keys_update_feed AFTER UPDATE ON signing_keys BEGIN
    INSERT INTO change_feed (what) VALUES ('keys:' || NEW.kid);
END;
CREATE TRIGGER signing_keys_delete_feed AFTER DELETE ON signing_keys BEGIN
    INSERT INTO change_feed (what) VALUES ('keys:' || OLD.kid);
END;
CREATE TRIGGER brokered_users_delete_feed AFTER DELETE ON brokered_users BEGIN
    INSERT INTO change_feed (what) VALUES ('brokered:' || OLD.user_id || ':' || OLD.provider_id);
END;
