//! Users: `/api/v1/users`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{GroupRef, page};

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    #[schema(example = "alice")]
    pub login: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    #[schema(example = "Alice Example")]
    pub display_name: String,
    /// `staged`, `active`, `suspended`, `locked_out` or `deactivated`.
    #[schema(example = "active")]
    pub status: String,
    /// Free-form attributes.
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    pub status_changed_at: String,
    pub last_sign_in_at: Option<String>,
}

page!(
    /// A page of users, in login order.
    UserPage,
    User
);

/// `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique regardless of case; letters, digits and `. _ - @ +`, at most 128 characters.
    pub login: String,
    pub email: String,
    /// Defaults to the login.
    #[serde(default)]
    pub display_name: Option<String>,
    /// A JSON object of attributes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<serde_json::Value>,
    /// Sets a password (hashed with argon2id; 8 to 256 characters).
    #[serde(default)]
    pub password: Option<String>,
    /// Groups to join, by id or name.
    #[serde(default)]
    pub groups: Vec<String>,
    /// `true` (default): the user is `active` at once; `false`: `staged`.
    #[serde(default)]
    pub activate: Option<bool>,
}

/// `PATCH /api/v1/users/{id}`: the fields given are replaced (`profile` as a whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub profile: Option<serde_json::Value>,
}

/// `PUT /api/v1/users/{id}/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    pub password: String,
}

/// A user's groups: `GET /api/v1/users/{id}/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserGroups {
    pub items: Vec<GroupRef>,
}
