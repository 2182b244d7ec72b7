//! An administrator's risk verdict on a user: `/api/v1/users/{id}/risk` (docs/risk.md).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /api/v1/users/{id}/risk` body: the level every sign-in of the user gets until `expires_at`
/// (RFC 3339) or, when that is absent, for `duration` (ISO 8601, default `P1D`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetUserRisk {
    /// `low`, `medium` or `high`.
    pub level: String,
    pub reason: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
}

/// The verdict in force (`null` fields when there is none or it expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRisk {
    pub user_id: String,
    pub level: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<String>,
    pub set_at: Option<String>,
}
