-- The system log without a unique index on `id` (PostgreSQL). Twin of
-- ../sqlite/0010_system_log_without_id_index.sql.
-- No query looks an event up by its id, and ids are UUIDv7s made by the server, unique by
-- construction; the index was one more index entry written at every commit that logs.
ALTER TABLE system_log DROP CONSTRAINT system_log_id_key;
