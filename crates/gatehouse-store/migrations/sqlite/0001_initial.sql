-- Gatehouse schema, version 1 (SQLite). Twin of ../postgres/0001_initial.sql.
-- Conventions: ids are UUID text; times are Unix milliseconds (INTEGER); JSON is text;
-- booleans are 0/1; `*_key` columns hold the lower-case form that uniqueness uses.
-- Enumerations are checked by the application, not by CHECK constraints, so a later migration
-- can add a value without rebuilding the table.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    login             TEXT NOT NULL,
    login_key         TEXT NOT NULL UNIQUE,
    email             TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    status            TEXT NOT NULL,
    profile           TEXT NOT NULL DEFAULT '{}',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    status_changed_at INTEGER NOT NULL,
    last_sign_in_at   INTEGER
);
CREATE INDEX users_status ON users (status, login_key);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- The built-in group that holds every user (membership implied, never stored).
INSERT INTO groups (id, name, name_key, description, builtin, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'everyone', 'everyone', 'Every user', 1, 0, 0);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE policies (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE policy_rules (
    id         TEXT PRIMARY KEY,
    policy_id  TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (policy_id, name_key)
);
CREATE INDEX policy_rules_order ON policy_rules (policy_id, position);

CREATE TABLE applications (
    id                         TEXT PRIMARY KEY,
    client_id                  TEXT NOT NULL UNIQUE,
    name                       TEXT NOT NULL,
    kind                       TEXT NOT NULL,
    secret_digest              TEXT,
    redirect_uris              TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris  TEXT NOT NULL DEFAULT '[]',
    grant_types                TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    policy_id                  TEXT REFERENCES policies (id) ON DELETE RESTRICT,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX applications_policy ON applications (policy_id);

CREATE TABLE app_group_assignments (
    app_id   TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE RESTRICT,
    PRIMARY KEY (app_id, group_id)
);
CREATE INDEX app_group_assignments_group ON app_group_assignments (group_id);

CREATE TABLE app_user_assignments (
    app_id  TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX app_user_assignments_user ON app_user_assignments (user_id);

CREATE TABLE network_zones (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,
    cidrs         TEXT NOT NULL DEFAULT '[]',
    blocked_cidrs TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- The authorization server's access-policy rules (JSON of the OIDC crate's `AccessRule`).
CREATE TABLE access_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    priority   INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    platform          TEXT NOT NULL,
    os_version        TEXT NOT NULL,
    model             TEXT NOT NULL,
    secure_hardware   INTEGER NOT NULL,
    managed           INTEGER NOT NULL,
    biometric_capable INTEGER NOT NULL,
    key_storage       TEXT NOT NULL,
    pop_public_key    TEXT NOT NULL,
    uv_public_key     TEXT,
    uv_level          TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_seen_at      INTEGER
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE enrollments (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    authenticator   TEXT NOT NULL,
    methods         TEXT NOT NULL,
    status          TEXT NOT NULL,
    name            TEXT,
    data               TEXT NOT NULL,
    hardware_protected INTEGER NOT NULL,
    user_verification  TEXT NOT NULL,
    device_id          TEXT REFERENCES devices (id) ON DELETE CASCADE,
    counter         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX enrollments_user ON enrollments (user_id);
CREATE INDEX enrollments_device ON enrollments (device_id);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    token_digest   TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id      TEXT REFERENCES devices (id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    max_idle_ms    INTEGER NOT NULL,
    keep_signed_in INTEGER NOT NULL,
    client_ip      TEXT,
    user_agent     TEXT,
    ended_at       INTEGER,
    end_reason     TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, ended_at);
CREATE INDEX sessions_device ON sessions (device_id);

CREATE TABLE verification_records (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    flow_id         TEXT,
    authenticator   TEXT NOT NULL,
    method          TEXT NOT NULL,
    enrollment_id   TEXT REFERENCES enrollments (id) ON DELETE SET NULL,
    device_id       TEXT REFERENCES devices (id) ON DELETE SET NULL,
    verified_at     INTEGER NOT NULL,
    proof           TEXT NOT NULL
);
CREATE INDEX verification_records_session ON verification_records (session_id, verified_at);

CREATE TABLE flows (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX flows_expiry ON flows (expires_at);

-- The system log: append-only. `seq` orders events (newest first = highest seq).
CREATE TABLE system_log (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    at               INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_id         TEXT,
    target_user_id   TEXT,
    target_app_id    TEXT,
    target_device_id TEXT,
    outcome          TEXT NOT NULL,
    request_id       TEXT,
    client_ip        TEXT,
    details          TEXT NOT NULL
);
CREATE INDEX system_log_at ON system_log (at);
CREATE INDEX system_log_user ON system_log (target_user_id, seq);
CREATE INDEX system_log_type ON system_log (event_type, seq);
CREATE TRIGGER system_log_no_update BEFORE UPDATE ON system_log
BEGIN
    SELECT RAISE(ABORT, 'the system log is append-only');
END;
CREATE TRIGGER system_log_no_delete BEFORE DELETE ON system_log
BEGIN
    SELECT RAISE(ABORT, 'the system log is append-only');
END;

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- Small facts about the installation (`demo_seeded`, …).
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
