//! The error body every JSON endpoint answers with on failure:
//! `{"error": code, "message": text, "field": name-or-null}`, plus `diagnostics` when a policy
//! was refused. Codes are listed in `docs/admin-api.md`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine code: `invalid_json`, `invalid_value`, `invalid_policy`, `unauthorized`,
    /// `not_found`, `already_exists`, `in_use`, `invalid_transition`, `conflict`, …
    #[schema(example = "invalid_value")]
    pub error: String,
    /// What went wrong, for people.
    #[schema(example = "login `al ice` is not valid: ` ` is not allowed; use letters, digits and . _ - @ +")]
    pub message: String,
    /// The request field the error is about (a JSON path such as `rules[1].require`), if any.
    #[schema(example = "login")]
    pub field: Option<String>,
    /// With `invalid_policy`: every error and warning the policy check found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<Diagnostic>>,
}

/// One finding of the policy check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// A stable code such as `no_catch_all` or `unknown_zone`.
    pub code: String,
    /// Where in the submitted document (`rules[2].when.network`); empty for the whole document.
    pub path: String,
    pub message: String,
}
