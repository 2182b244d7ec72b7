-- Refresh tokens by session (SQLite). Twin of ../postgres/0009_refresh_session_index.sql.
-- The index no longer holds the status, so a rotation (active -> rotated) leaves the token's
-- entry where it is: one index page less written per refresh. Every query by session (revoke a
-- session's tokens, the apps a session signed in to) reads all of its tokens anyway.
DROP INDEX oauth_refresh_session;
CREATE INDEX oauth_refresh_session ON oauth_refresh_tokens (session_id);
