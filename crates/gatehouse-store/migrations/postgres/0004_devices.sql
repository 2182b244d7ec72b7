-- Gatehouse Verify (PostgreSQL). Twin of ../sqlite/0004_devices.sql. See docs/verify-protocol.md.

-- The Verify instance a device record belongs to (never matched across users).
ALTER TABLE devices ADD COLUMN installation_id TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_installation ON devices (user_id, installation_id);

-- Challenges issued to devices (push, FastPass, user-verification key enrollment). `answered`
-- is set once, by a conditional update; `outcome` is the accepted outcome the flow picks up.
-- `audience` is `any`, `enrollment:<id>` or `any_of:<id>,<id>…`.
CREATE TABLE device_challenges (
    id                TEXT PRIMARY KEY,
    flow_id           TEXT,
    kind              TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    origin            TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    user_verification TEXT NOT NULL,
    user_presence     BOOLEAN NOT NULL,
    number_challenge  BOOLEAN NOT NULL,
    expected_number   BIGINT,
    audience          TEXT NOT NULL,
    answered          BOOLEAN NOT NULL,
    outcome           TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX device_challenges_flow ON device_challenges (flow_id);
CREATE INDEX device_challenges_expiry ON device_challenges (expires_at);

-- The push queue of each enrollment, read by the device's long-poll (oldest first).
CREATE TABLE device_pushes (
    seq           BIGSERIAL PRIMARY KEY,
    enrollment_id TEXT NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    challenge_id  TEXT NOT NULL REFERENCES device_challenges (id) ON DELETE CASCADE,
    request       TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX device_pushes_enrollment ON device_pushes (enrollment_id, seq);

-- `jti`s of device proofs (registration and request proofs) seen, kept until they expire.
CREATE TABLE device_proof_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_proof_jtis_expiry ON device_proof_jtis (expires_at);
