//! Sign-in flows as the store keeps them: opaque state JSON with a version for optimistic
//! concurrency and an expiry. What the state means belongs to the flow state machine.

use jiff::Timestamp;

use super::id::FlowId;

/// A flow record. Each successful update increments `version`; an update carrying an older
/// version is refused by the store, so two requests racing on one flow cannot both win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub id: FlowId,
    /// The flow state machine's state, as JSON text: the store keeps it as it is, and the
    /// state machine reads and writes its own type straight from and to it (no JSON tree in
    /// between, on every step).
    pub state: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Flow {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}
