//! The authorization server's access-policy rules: `/api/v1/authorization-server/rules`.
//!
//! A rule is the JSON the OIDC provider evaluates, for example
//! `{"name": "dashboard", "priority": 1, "clients": ["dashboard"], "grant_types": ["*"],
//! "scopes": ["*"], "users": {"include": [], "exclude": []}, "groups": {"include":
//! ["everyone"], "exclude": []}, "access_token_lifetime": "PT1H", "refresh_token_lifetime":
//! "P1D"}`. Rules are tried by ascending `priority` (then name); `"*"` means any; an empty
//! `include` means no restriction. An optional `"access_token_format": "opaque"` gives opaque access
//! tokens instead of the default ES256 JWTs (`docs/oidc.md`). Answers add the rule's `id`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every rule in evaluation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessRuleList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
}
