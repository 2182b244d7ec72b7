//! Sign-in flows as the store keeps them: opaque state JSON with a version for optimistic
//! concurrency and an expiry. What the state means belongs to the flow state machine.

use jiff::Timestamp;

use super::id::FlowId;

/// A flow record. Each successful update increments `version`; an update carrying an older
/// version is refused by the store, so two requests racing on one flow cannot both win.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub id: FlowId,
    pub state: serde_json::Value,
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
