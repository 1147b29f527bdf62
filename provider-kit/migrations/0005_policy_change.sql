-- Policy changes: what an automatic account's name was made from (the principal's names, e-mail
-- and site username, JSON), so a new policy can be previewed; and the old names of renamed
-- accounts, kept as aliases (and from everyone else) until `until`.
ALTER TABLE local_accounts ADD COLUMN principal TEXT;
CREATE TABLE aliases (
    alias      TEXT    NOT NULL PRIMARY KEY,
    account    TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    renamed_at INTEGER NOT NULL,
    until      INTEGER NOT NULL
);
