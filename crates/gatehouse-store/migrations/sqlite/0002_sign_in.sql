-- Sign-in hardening (SQLite). Twin of ../postgres/0002_sign_in.sql.
-- Consecutive failed verifications per user, for lock-out; reset by a success or an unlock.
CREATE TABLE sign_in_failures (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL
);
