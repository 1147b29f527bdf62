-- The change feed (SPEC §10): every change to something a replica caches sends
-- `pg_notify('gateway_changes', 'kind:key')` inside the transaction that makes it, so the CLI's changes
-- and every replica's reach the others the moment they commit (and never when they roll back).
-- Trigger arguments: the kind, then the column(s) naming what changed.
CREATE FUNCTION gateway_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed jsonb;
    what text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := to_jsonb(OLD);
    ELSE
        changed := to_jsonb(NEW);
    END IF;
    what := TG_ARGV[0] || ':' || coalesce(changed ->> TG_ARGV[1], '');
    IF TG_NARGS > 2 THEN
        what := what || ':' || coalesce(changed ->> TG_ARGV[2], '');
    END IF;
    PERFORM pg_notify('gateway_changes', what);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('credential', 'token_hash');
CREATE TRIGGER api_tokens_changed AFTER UPDATE OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('credential', 'token_hash');
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('user', 'id');
CREATE TRIGGER account_states_changed AFTER INSERT OR UPDATE OR DELETE ON account_states
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('user', 'user_id');
CREATE TRIGGER providers_changed AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('provider', 'id');
CREATE TRIGGER provider_manifests_changed AFTER INSERT OR UPDATE OR DELETE ON provider_manifests
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('manifest', 'provider_id');
CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('keys', 'kid');
CREATE TRIGGER brokered_users_changed AFTER DELETE ON brokered_users
    FOR EACH ROW EXECUTE FUNCTION gateway_notify_change('brokered', 'user_id', 'provider_id');
