-- The SQLite twin rebuilds `system_log` lighter to append to (no AUTOINCREMENT, no `at` and
-- `type` indexes that its planner never used). PostgreSQL's identity column costs no extra
-- write and its planner can use those indexes, so its schema stays as it is.
SELECT 1;
