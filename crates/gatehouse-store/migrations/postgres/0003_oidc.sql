-- The OpenID Connect provider (postgres). Twin of ../sqlite/0003_oidc.sql.
-- Authorization codes, stored under the SHA-256 digest of the code; redeemed_at switches once
-- (UPDATE … WHERE redeemed_at IS NULL), so a code is used at most once even across nodes.
CREATE TABLE oauth_codes (
    digest      TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    grant_data  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    redeemed_at BIGINT,
    family_id   TEXT
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- Refresh tokens by digest, in families (one per sign-in). status: active, rotated, revoked.
CREATE TABLE oauth_refresh_tokens (
    digest     TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    status     TEXT NOT NULL,
    grant_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_refresh_family ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_session ON oauth_refresh_tokens (session_id, status);

-- Token signing keys, the PKCS#8 private key sealed with the master keyring. status: active,
-- retiring (published in the JWKS until not_after, no longer signing).
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    algorithm  TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    not_after  BIGINT
);

-- Revoked access tokens (jti), kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
