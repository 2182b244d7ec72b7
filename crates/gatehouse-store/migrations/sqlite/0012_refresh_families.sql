-- Refresh tokens as one row per family (SQLite). Twin of ../postgres/0012_refresh_families.sql.
-- A family is one sign-in's chain of refresh tokens. A token is its family's id (32 hex
-- characters) followed by a secret; the family keeps the SHA-256 of its current token's secret.
-- A rotation is one conditional UPDATE of that row (`WHERE digest = <the token presented>`), so
-- it writes no index and the table grows by sign-in, not by refresh; a token of the family that
-- is not the current one is a reuse, and revokes the family. Tokens issued before this migration
-- are not carried over: their holders sign in again.
CREATE TABLE oauth_refresh_families (
    id         TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    status     TEXT NOT NULL,
    grant_data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX oauth_refresh_families_session ON oauth_refresh_families (session_id);
DROP TABLE oauth_refresh_tokens;
