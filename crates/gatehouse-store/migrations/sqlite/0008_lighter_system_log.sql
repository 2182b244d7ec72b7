-- The system log, lighter to append to (issue 4: a sign-in writes eight events, and each index
-- an event lands in is another page written to the WAL at every commit):
--  * `seq` without AUTOINCREMENT: rows are never deleted (the triggers refuse it), so the
--    largest `seq` plus one is the same number AUTOINCREMENT would give, without rewriting the
--    `sqlite_sequence` row at every commit;
--  * no `system_log_at` and `system_log_type` indexes: no query on SQLite used them (the log is
--    read newest first along `seq`, by user along `system_log_user`; a type prefix is a LIKE,
--    which SQLite's case-insensitive LIKE cannot look up in an index).
-- PostgreSQL keeps its schema (0008 there changes nothing).
CREATE TABLE system_log_next (
    seq              INTEGER PRIMARY KEY,
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
INSERT INTO system_log_next (seq, id, at, event_type, actor_type, actor_id, target_user_id,
                             target_app_id, target_device_id, outcome, request_id, client_ip, details)
    SELECT seq, id, at, event_type, actor_type, actor_id, target_user_id,
           target_app_id, target_device_id, outcome, request_id, client_ip, details
    FROM system_log ORDER BY seq;
DROP TABLE system_log;
ALTER TABLE system_log_next RENAME TO system_log;
CREATE INDEX system_log_user ON system_log (target_user_id, seq);
CREATE TRIGGER system_log_no_update BEFORE UPDATE ON system_log
BEGIN
    SELECT RAISE(ABORT, 'the system log is append-only');
END;
CREATE TRIGGER system_log_no_delete BEFORE DELETE ON system_log
BEGIN
    SELECT RAISE(ABORT, 'the system log is append-only');
END;
