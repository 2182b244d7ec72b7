//! Policies and their rules (`/api/v1/policies`), in the JSON form of the policy language
//! (DESIGN section 4.1, `docs/policy-language.md`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Diagnostic;

/// A policy with its ordered rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub id: String,
    /// `authentication`, `global_session` or `enrollment`.
    #[serde(rename = "type")]
    #[schema(example = "authentication")]
    pub kind: String,
    #[schema(example = "finance")]
    pub name: String,
    /// `authentication` only: the `client_id`s of the apps whose sign-ins use it.
    pub apps: Vec<String>,
    /// The rules in order: each is a rule of the policy language plus its `id` and `position`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<serde_json::Value>,
    /// `enrollment` only: the authenticators users may enroll (`null`: every one).
    pub allowed: Option<Vec<String>>,
    /// Warnings of the policy check (shadowed rules, policies no app uses, …).
    pub warnings: Vec<Diagnostic>,
    pub created_at: String,
    pub updated_at: String,
}

/// Every policy, by type then name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyList {
    pub items: Vec<Policy>,
}

/// `POST /api/v1/policies` and `PUT /api/v1/policies/{id}` (which replaces the rules, giving
/// them new ids). The fields besides `type` are those of the policy language for that type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// `authentication`, `global_session` or `enrollment`; one global session and one enrollment
    /// policy may exist.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// `authentication`: the `client_id`s of the apps that use it (each app has one policy).
    #[serde(default)]
    pub apps: Option<Vec<String>>,
    /// `authentication` and `global_session`: the ordered rules.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub rules: Option<Vec<serde_json::Value>>,
    /// `enrollment`: the authenticators users may enroll; absent for every one.
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
}

/// `PUT /api/v1/policies/{id}/rules/order`: every rule id of the policy, in the new order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleOrder {
    pub rules: Vec<String>,
}

/// A policy's rules in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
}

/// `POST /api/v1/policies/simulate`: evaluate a policy against a context, as `gatehouse policy
/// simulate --json` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The `client_id` whose authentication policy is evaluated.
    #[schema(example = "finance")]
    pub app: String,
    /// The context of DESIGN section 4.5 (`user`, `ip`, `device`, `risk`, `enrollments`,
    /// `records`, `now`).
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
    /// A whole policy document to evaluate instead of the stored policies.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}
