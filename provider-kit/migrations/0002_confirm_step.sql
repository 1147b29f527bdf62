-- SPEC §4 ▲: the confirm step. The organization shown beside the gateway user; the local account
-- the browser proved, waiting for the user's click; that click's own CSRF token.
ALTER TABLE attempts ADD COLUMN organization TEXT;
ALTER TABLE attempts ADD COLUMN proven_account TEXT;
ALTER TABLE attempts ADD COLUMN confirm_csrf TEXT;
