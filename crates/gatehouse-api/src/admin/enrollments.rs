//! A user's authenticator enrollments: `/api/v1/users/{id}/enrollments`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An enrollment, without its method data (secrets and keys never leave the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Enrollment {
    pub id: String,
    pub user_id: String,
    /// `password`, `email`, `phone`, `totp`, `webauthn`, `device`, `smart_card`, `idp`.
    #[schema(example = "totp")]
    pub authenticator: String,
    pub methods: Vec<String>,
    /// `active` or `inactive`.
    pub status: String,
    pub name: Option<String>,
    pub hardware_protected: bool,
    /// `none`, `any` or `biometric`.
    pub user_verification: String,
    pub device_id: Option<String>,
    /// `webauthn` only: the credential id, base64url (what `rawId` carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
}

/// A user's enrollments, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnrollmentList {
    pub items: Vec<Enrollment>,
}
