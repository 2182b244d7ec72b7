//! Applications: OIDC clients as the directory keeps them, and the rules a registration must
//! follow. Redirect-URI syntax is the OIDC crate's business (checked at the edge); this module
//! holds the rules between fields: a public client authenticates with `none` and has no secret, a
//! confidential one has a secret, client credentials need a confidential client, the code grant
//! needs a redirect URI, refresh tokens come only with the code grant.

use std::fmt;

use jiff::Timestamp;

use super::id::{AppId, GroupId, PolicyId, UserId};
use super::text;
use crate::CoreError;

/// The OAuth `client_id`: 1 to 128 letters, digits, `.`, `_` or `-`; compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        let bad = |reason: &str| CoreError::invalid("client_id", input, reason);
        if input.is_empty() {
            return Err(bad("it must not be empty"));
        }
        if input.len() > 128 {
            return Err(bad("it must be at most 128 characters"));
        }
        if !input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(bad("use letters, digits and . _ -"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application's display name: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppName(String);

impl AppName {
    pub fn parse(input: &str) -> Result<Self, CoreError> {
        text::name("name", input, 200).map(|t| Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(input: &str) -> Result<Self, $crate::CoreError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == input).ok_or_else(|| {
                    let expected: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::CoreError::invalid($field, input, format!("expected one of {}", expected.join(", ")))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Whether the client can keep a secret.
    ClientKind, "kind" {
        Confidential => "confidential",
        Public => "public",
    }
);

string_enum!(
    /// The OAuth grants an application may use.
    GrantType, "grant_types" {
        AuthorizationCode => "authorization_code",
        RefreshToken => "refresh_token",
        ClientCredentials => "client_credentials",
    }
);

string_enum!(
    /// How the client authenticates at the token endpoint.
    TokenAuthMethod, "token_endpoint_auth_method" {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        None => "none",
    }
);

/// Who may use an application: members of these groups (the group `everyone` means every user)
/// and these users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignments {
    pub groups: Vec<GroupId>,
    pub users: Vec<UserId>,
}

impl Assignments {
    /// Whether a user with these groups (which include `everyone`) is assigned.
    pub fn includes(&self, user: UserId, groups: &[GroupId]) -> bool {
        self.users.contains(&user) || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// An application: an OpenID Connect client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: AppId,
    pub client_id: ClientId,
    pub name: AppName,
    pub kind: ClientKind,
    /// Lower-case hex SHA-256 of the client secret (confidential clients only).
    pub secret_digest: Option<String>,
    /// Compared byte for byte; syntax checked by the OIDC crate at registration.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// The authentication policy sign-ins to this app are evaluated against.
    pub policy_id: Option<PolicyId>,
    /// Where the app wants OpenID Connect back-channel logout tokens POSTed, if anywhere.
    pub backchannel_logout_uri: Option<String>,
    pub assignments: Assignments,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The fields of a registration whose combination [`check_registration`] judges.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationShape<'a> {
    pub kind: ClientKind,
    pub method: TokenAuthMethod,
    pub grant_types: &'a [GrantType],
    pub redirect_uris: &'a [String],
    pub post_logout_redirect_uris: &'a [String],
}

/// Checks that the fields of a registration agree with each other.
pub fn check_registration(shape: RegistrationShape<'_>) -> Result<(), CoreError> {
    let inconsistent = |field, message: &str| {
        Err(CoreError::Inconsistent {
            field,
            message: message.to_owned(),
        })
    };
    if shape.grant_types.is_empty() {
        return inconsistent("grant_types", "an application needs at least one grant type");
    }
    match (shape.kind, shape.method) {
        (ClientKind::Public, TokenAuthMethod::None) => {}
        (ClientKind::Public, _) => {
            return inconsistent(
                "token_endpoint_auth_method",
                "a public client cannot keep a secret: its token endpoint auth method must be `none`",
            );
        }
        (ClientKind::Confidential, TokenAuthMethod::None) => {
            return inconsistent(
                "token_endpoint_auth_method",
                "a confidential client authenticates with `client_secret_basic` or `client_secret_post`",
            );
        }
        (ClientKind::Confidential, _) => {}
    }
    let has = |g| shape.grant_types.contains(&g);
    if has(GrantType::ClientCredentials) && shape.kind == ClientKind::Public {
        return inconsistent("grant_types", "`client_credentials` needs a confidential client");
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
        return inconsistent("grant_types", "`refresh_token` comes with `authorization_code`");
    }
    if has(GrantType::AuthorizationCode) && shape.redirect_uris.is_empty() {
        return inconsistent(
            "redirect_uris",
            "`authorization_code` needs at least one redirect URI",
        );
    }
    for (field, uris) in [
        ("redirect_uris", shape.redirect_uris),
        ("post_logout_redirect_uris", shape.post_logout_redirect_uris),
    ] {
        if uris.len() > 20 {
            return inconsistent(field, "at most 20 URIs may be registered");
        }
        for (i, uri) in uris.iter().enumerate() {
            if uris.iter().skip(i + 1).any(|other| other == uri) {
                return Err(CoreError::invalid(field, uri, "it is listed twice"));
            }
        }
    }
    for (i, grant) in shape.grant_types.iter().enumerate() {
        if shape.grant_types.iter().skip(i + 1).any(|g| g == grant) {
            return Err(CoreError::invalid(
                "grant_types",
                grant.as_str(),
                "it is listed twice",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape<'a>(
        kind: ClientKind,
        method: TokenAuthMethod,
        grants: &'a [GrantType],
        uris: &'a [String],
    ) -> RegistrationShape<'a> {
        RegistrationShape {
            kind,
            method,
            grant_types: grants,
            redirect_uris: uris,
            post_logout_redirect_uris: &[],
        }
    }

    #[test]
    fn client_ids_are_exact_tokens() {
        assert_eq!(
            ClientId::parse("reports-service").unwrap().as_str(),
            "reports-service"
        );
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse("a/b").is_err());
    }

    #[test]
    fn the_demo_registrations_are_consistent() {
        use GrantType::*;
        let cb = vec!["http://127.0.0.1:9000/callback".to_owned()];
        let conf = ClientKind::Confidential;
        let basic = TokenAuthMethod::ClientSecretBasic;
        check_registration(shape(conf, basic, &[AuthorizationCode, RefreshToken], &cb)).unwrap();
        check_registration(shape(
            ClientKind::Public,
            TokenAuthMethod::None,
            &[AuthorizationCode],
            &cb,
        ))
        .unwrap();
        check_registration(shape(conf, basic, &[ClientCredentials], &[])).unwrap();
    }

    #[test]
    fn contradictions_are_named_with_their_field() {
        use GrantType::*;
        let cb = vec!["http://127.0.0.1:9000/callback".to_owned()];
        let public = ClientKind::Public;
        let cases = [
            (
                shape(
                    public,
                    TokenAuthMethod::ClientSecretBasic,
                    &[AuthorizationCode],
                    &cb,
                ),
                "token_endpoint_auth_method",
            ),
            (
                shape(
                    ClientKind::Confidential,
                    TokenAuthMethod::None,
                    &[AuthorizationCode],
                    &cb,
                ),
                "token_endpoint_auth_method",
            ),
            (
                shape(public, TokenAuthMethod::None, &[ClientCredentials], &[]),
                "grant_types",
            ),
            (
                shape(public, TokenAuthMethod::None, &[RefreshToken], &cb),
                "grant_types",
            ),
            (
                shape(public, TokenAuthMethod::None, &[AuthorizationCode], &[]),
                "redirect_uris",
            ),
            (shape(public, TokenAuthMethod::None, &[], &cb), "grant_types"),
            (
                shape(
                    public,
                    TokenAuthMethod::None,
                    &[AuthorizationCode, AuthorizationCode],
                    &cb,
                ),
                "grant_types",
            ),
        ];
        for (shape, field) in cases {
            let err = check_registration(shape).unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }

    #[test]
    fn assignments_cover_groups_and_users() {
        let user = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let group = GroupId::from_uuid(uuid::Uuid::from_u128(8));
        let by_group = Assignments {
            groups: vec![group],
            users: vec![],
        };
        assert!(by_group.includes(user, &[group]));
        assert!(!by_group.includes(user, &[]));
        let by_user = Assignments {
            groups: vec![],
            users: vec![user],
        };
        assert!(by_user.includes(user, &[]));
        assert_eq!(
            GrantType::parse("password").unwrap_err().field(),
            Some("grant_types")
        );
    }
}
