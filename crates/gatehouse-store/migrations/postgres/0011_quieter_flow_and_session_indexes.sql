-- Indexes that a sign-in writes less often (PostgreSQL). Twin of
-- ../sqlite/0011_quieter_flow_and_session_indexes.sql.
--  * Flows by creation time instead of expiry: every step moves a flow's `expires_at` (10 idle
--    minutes from now), so its index entry was rewritten at every step; `created_at` never
--    changes. The purge still deletes by expiry: a flow that expired before T was created
--    before T, so the index narrows the scan to old flows and `expires_at` picks among them.
--  * Sessions by device only where there is a device: a browser session has none, and its
--    NULL entry was one more index page written per sign-in. Every lookup by device
--    (`device_id = $1`) implies the index's condition.
DROP INDEX flows_expiry;
CREATE INDEX flows_created ON flows (created_at);
DROP INDEX sessions_device;
CREATE INDEX sessions_device ON sessions (device_id) WHERE device_id IS NOT NULL;
