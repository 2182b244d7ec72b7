-- Gatehouse schema, version 1 (PostgreSQL). Twin of ../sqlite/0001_initial.sql.
-- Conventions: ids are UUID text; times are Unix milliseconds (BIGINT); JSON is text;
-- booleans are BOOLEAN; `*_key` columns hold the lower-case form that uniqueness uses.
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
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    status_changed_at BIGINT NOT NULL,
    last_sign_in_at   BIGINT
);
CREATE INDEX users_status ON users (status, login_key);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
-- The built-in group that holds every user (membership implied, never stored).
INSERT INTO groups (id, name, name_key, description, builtin, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'everyone', 'everyone', 'Every user', TRUE, 0, 0);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE policies (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE policy_rules (
    id         TEXT PRIMARY KEY,
    policy_id  TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
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
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
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
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- The authorization server's access-policy rules (JSON of the OIDC crate's `AccessRule`).
CREATE TABLE access_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    priority   BIGINT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    platform          TEXT NOT NULL,
    os_version        TEXT NOT NULL,
    model             TEXT NOT NULL,
    secure_hardware   BOOLEAN NOT NULL,
    managed           BOOLEAN NOT NULL,
    biometric_capable BOOLEAN NOT NULL,
    key_storage       TEXT NOT NULL,
    pop_public_key    TEXT NOT NULL,
    uv_public_key     TEXT,
    uv_level          TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_seen_at      BIGINT
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
    hardware_protected BOOLEAN NOT NULL,
    user_verification  TEXT NOT NULL,
    device_id          TEXT REFERENCES devices (id) ON DELETE CASCADE,
    counter         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX enrollments_user ON enrollments (user_id);
CREATE INDEX enrollments_device ON enrollments (device_id);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    token_digest   TEXT NOT NULL UNIQUE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id      TEXT REFERENCES devices (id) ON DELETE SET NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    max_idle_ms    BIGINT NOT NULL,
    keep_signed_in BOOLEAN NOT NULL,
    client_ip      TEXT,
    user_agent     TEXT,
    ended_at       BIGINT,
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
    verified_at     BIGINT NOT NULL,
    proof           TEXT NOT NULL
);
CREATE INDEX verification_records_session ON verification_records (session_id, verified_at);

CREATE TABLE flows (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX flows_expiry ON flows (expires_at);

-- The system log: append-only. `seq` orders events (newest first = highest seq).
CREATE TABLE system_log (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    at               BIGINT NOT NULL,
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
CREATE FUNCTION system_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the system log is append-only';
END;
$$;
CREATE TRIGGER system_log_no_update BEFORE UPDATE OR DELETE ON system_log
    FOR EACH ROW EXECUTE FUNCTION system_log_append_only();
CREATE TRIGGER system_log_no_truncate BEFORE TRUNCATE ON system_log
    FOR EACH STATEMENT EXECUTE FUNCTION system_log_append_only();

CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- Small facts about the installation (`demo_seeded`, …).
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
