-- The system log without a unique index on `id` (SQLite). Twin of
-- ../postgres/0010_system_log_without_id_index.sql.
-- No query looks an event up by its id (the log is read newest first along `seq`, by user along
-- `system_log_user`), and ids are UUIDv7s made by the server, unique by construction; the index
-- was one more page written to the WAL at every commit that logs (every sign-in step, every
-- token grant). SQLite cannot drop a UNIQUE constraint's index, so the table is rebuilt: every
-- event keeps its `seq`, and the log stays append-only.
CREATE TABLE system_log_next (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
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
