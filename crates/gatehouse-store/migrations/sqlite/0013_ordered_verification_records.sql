-- A session's verification records in the order they are read (`ORDER BY verified_at, id`):
-- with `id` in the index the read walks it in order instead of sorting the rows afterwards
-- (SQLite built a temporary B-tree for every refresh and every sign-in that found a session).
-- The same one entry per record is written. Twin of ../postgres/0013_ordered_verification_records.sql.
DROP INDEX verification_records_session;
CREATE INDEX verification_records_session ON verification_records (session_id, verified_at, id);
