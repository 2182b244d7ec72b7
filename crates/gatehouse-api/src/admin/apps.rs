//! Applications (OIDC clients): `/api/v1/apps`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{GroupRef, PolicyRef, UserRef, page};

/// An application. Its secret is never shown again after creation or rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct App {
    pub id: String,
    #[schema(example = "dashboard")]
    pub client_id: String,
    pub name: String,
    /// `confidential` or `public`.
    pub kind: String,
    /// Compared byte for byte.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Where OpenID Connect back-channel logout tokens are POSTed (none when `null`).
    pub backchannel_logout_uri: Option<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub token_endpoint_auth_method: String,
    /// Whether a client secret is set.
    pub has_secret: bool,
    /// The authentication policy its sign-ins use.
    pub policy: Option<PolicyRef>,
    pub assignments: AppAssignments,
    pub created_at: String,
    pub updated_at: String,
}

/// Who may use an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppAssignments {
    pub groups: Vec<GroupRef>,
    pub users: Vec<UserRef>,
}

/// An application with the secret just generated (creation and rotation only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppWithSecret {
    #[serde(flatten)]
    pub app: App,
    /// Shown once: store it now. `null` for public clients.
    pub client_secret: Option<String>,
}

page!(
    /// A page of applications, in `client_id` order.
    AppPage,
    App
);

/// Assignments in a request: groups by id or name, users by id or login.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentsInput {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

/// `POST /api/v1/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// Generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    pub name: String,
    /// `confidential` (default) or `public`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// An absolute http(s) URL for back-channel logout tokens.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Default `["authorization_code"]`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Default `client_secret_basic` (confidential) or `none` (public).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// An authentication policy, by id or name.
    #[serde(default)]
    pub policy: Option<String>,
    /// Default: the group `everyone`.
    #[serde(default)]
    pub assignments: Option<AssignmentsInput>,
}

/// `PATCH /api/v1/apps/{id}`: the fields given are replaced. `policy: null` clears the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `null` to stop back-channel logout.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// By id or name; `null` to clear.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub policy: Option<Option<String>>,
    #[serde(default)]
    pub assignments: Option<AssignmentsInput>,
}

/// `Option<Option<T>>` that tells an absent field (`None`) from an explicit `null`
/// (`Some(None)`).
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
