-- Admin console tokens (SQLite). Twin of ../postgres/0005_console_tokens.sql. See docs/admin-api.md.

-- An admin API token the console obtained for a signed-in administrator's session: it
-- authenticates only while that session is live, its user is in `admins`, and before `expires_at`.
-- Plain admin tokens (the CLI's) have all three NULL.
ALTER TABLE admin_tokens ADD COLUMN session_id TEXT;
ALTER TABLE admin_tokens ADD COLUMN user_id TEXT;
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;
CREATE INDEX admin_tokens_session ON admin_tokens (session_id);
