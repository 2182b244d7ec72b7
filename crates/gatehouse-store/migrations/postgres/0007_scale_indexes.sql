-- Indexes the sign-in path and housekeeping need at directory scale (issue 9: measured with `gatehouse dev seed
-- --users 1000000`). "Does anyone have an active passkey / device?" (the sign-in page's
-- passwordless buttons) scanned every enrollment when nobody had one.
CREATE INDEX enrollments_authenticator_status ON enrollments (authenticator, status);
CREATE INDEX devices_status ON devices (status);
-- Housekeeping forgets sign-in places older than risk's look-back.
CREATE INDEX sign_in_contexts_last_seen ON sign_in_contexts (last_seen_at);
