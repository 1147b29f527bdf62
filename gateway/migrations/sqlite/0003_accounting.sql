-- Issue 7: account lifecycle, projects, wallets and charges, the audit log.

-- A user without a row here is active with no end date.
CREATE TABLE account_states (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,            -- active | suspended | disabled
    suspended_until BIGINT,          -- with status suspended: NULL means indefinitely
    expires_at BIGINT,               -- end of membership; NULL means none
    updated_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,              -- PI | ADMIN | USER
    added_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members(user_id);

-- One wallet per owner per provider. owner_key ('user:<id>' or 'project:<id>') makes either kind
-- unique with one constraint; the two nullable columns keep the references.
CREATE TABLE wallets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id TEXT NOT NULL REFERENCES providers(id),
    owner_key TEXT NOT NULL,
    owner_user BIGINT REFERENCES users(id) ON DELETE CASCADE,
    owner_project TEXT REFERENCES projects(id) ON DELETE CASCADE,
    balance BIGINT NOT NULL CHECK (balance >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((owner_user IS NULL) <> (owner_project IS NULL)),
    UNIQUE (provider_id, owner_key)
);
CREATE INDEX wallets_user ON wallets(owner_user);
CREATE INDEX wallets_project ON wallets(owner_project);

-- Every charge a provider made, keyed by its idempotency key, with the first answer it got.
CREATE TABLE charges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_id TEXT NOT NULL REFERENCES providers(id),
    charge_id TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    units BIGINT NOT NULL,
    description TEXT NOT NULL,
    outcome TEXT NOT NULL,           -- pending (inside its transaction only) | accepted | insufficientFunds
    balance BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider_id, charge_id)
);
CREATE INDEX charges_owner ON charges(owner_key, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
