//! A user's sessions: `/api/v1/users/{id}/sessions`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A global session (never its cookie token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub device_id: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    /// Absolute expiry.
    pub expires_at: String,
    /// When it times out if unused.
    pub idle_expires_at: String,
    pub keep_signed_in: bool,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The authenticators verified in it, oldest first.
    pub verifications: Vec<Verification>,
}

/// One verification record of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    pub authenticator: String,
    pub method: String,
    pub verified_at: String,
}

/// A user's live sessions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<Session>,
}

/// The answer to ending all of a user's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    /// How many sessions were ended.
    pub ended: u64,
}
