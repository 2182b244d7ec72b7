-- gatehouse-sso schema, SQLite dialect. Times are Unix seconds.

CREATE TABLE tenants (
    id                   TEXT PRIMARY KEY,
    slug                 TEXT NOT NULL UNIQUE,
    company_name         TEXT NOT NULL,
    issuer               TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    enabled              INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE tenant_origins (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    origin    TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, origin)
);
CREATE INDEX tenant_origins_by_origin ON tenant_origins(origin);

CREATE TABLE login_states (
    state_hash           TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    browser_hash         TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    nonce_sealed         TEXT NOT NULL,
    created_at           INTEGER NOT NULL
);
CREATE INDEX login_states_by_age ON login_states(created_at);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    name          TEXT,
    role          TEXT NOT NULL,
    project_role  TEXT NOT NULL CHECK (project_role IN ('owner', 'member')),
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    synced_at     INTEGER,
    UNIQUE (tenant_id, issuer, subject)
);

-- One row per tenant: its project and subscription once created, and the outbox entry that
-- drives the provisioning services. The primary key is what makes a tenant's first login unique.
CREATE TABLE tenant_provisioning (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    owner_user_id   TEXT NOT NULL,
    project_id      TEXT,
    subscription_id TEXT,
    plan            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
    requested_gen   INTEGER NOT NULL,
    claimed_gen     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX tenant_provisioning_due ON tenant_provisioning(state, next_attempt_at);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    tenant TEXT,
    actor  TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_by_tenant ON audit_events(tenant, id);

-- The embedded default provisioning services' own data.
CREATE TABLE svc_projects (
    id          TEXT PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE svc_subscriptions (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL UNIQUE REFERENCES svc_projects(id) ON DELETE CASCADE,
    plan       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE svc_members (
    project_id   TEXT NOT NULL REFERENCES svc_projects(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    email        TEXT,
    name         TEXT,
    role         TEXT NOT NULL,
    project_role TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
