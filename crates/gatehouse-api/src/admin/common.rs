//! Pieces shared by several resources.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A short reference to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// A short reference to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    pub login: String,
}

/// A short reference to a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyRef {
    pub id: String,
    pub name: String,
}

/// Declares a page type `{items, next}` of `$item`.
macro_rules! page {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// The cursor of the next page (pass it as `after`); `null` on the last page.
            pub next: Option<String>,
        }
    };
}
pub(crate) use page;
