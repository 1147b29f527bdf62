-- Failed sign-ins per key (a username or a client address), shared by every replica (SPEC §7).
-- `failures` counts attempts in the window that began at `window_start`; `locked_until` is when
-- the key may try again (0: not locked). Rows whose window and lock have passed are swept.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
CREATE INDEX sign_in_throttle_sweep ON sign_in_throttle(window_start);
