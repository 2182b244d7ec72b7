//! The system log: `GET /api/v1/logs`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::page;

/// One system log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogEvent {
    pub id: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// Dotted, most general first (`user.lifecycle.suspend`).
    #[schema(example = "user.session.start")]
    pub event_type: String,
    pub actor: Actor,
    pub target: Target,
    /// `success`, `failure`, `allow`, `deny` or `challenge`.
    pub outcome: String,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// Event-specific facts (the matched rule, the fields changed, …).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// `system`, `admin_token`, `user`, `client` or `anonymous`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Target {
    pub user_id: Option<String>,
    pub app_id: Option<String>,
    pub device_id: Option<String>,
}

page!(
    /// A page of events, newest first.
    LogPage,
    LogEvent
);
