-- Risk signals and back-channel logout (PostgreSQL). Twin of ../sqlite/0006_risk.sql. See docs/risk.md.

-- Where each user signed in from, for the "new device" and "new network" signals: kind `device`
-- (the SHA-256 of the browser's gh_device cookie), `network` (the /24 or /48 of the address) or
-- `zone` (a network zone's name). One row per value, refreshed at every successful sign-in.
CREATE TABLE sign_in_contexts (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, kind, value)
);

-- An administrator's risk verdict on a user (low, medium or high) until it expires.
CREATE TABLE user_risk (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    level      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    set_at     BIGINT NOT NULL
);

-- Where a zone is (JSON {latitude, longitude}), for the impossible-travel signal.
ALTER TABLE network_zones ADD COLUMN location TEXT;

-- OpenID Connect back-channel logout: where the app wants its logout tokens POSTed.
ALTER TABLE applications ADD COLUMN backchannel_logout_uri TEXT;

-- Back-channel logout tokens to deliver (an outbox): one row per app that received tokens from a
-- session that ended, written in the transaction that ended it, delivered and retried by every
-- node's worker (a conditional update on `attempts` decides which node sends an attempt).
CREATE TABLE backchannel_logouts (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    uri             TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    status          TEXT NOT NULL,
    last_error      TEXT
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts (status, next_attempt_at);
