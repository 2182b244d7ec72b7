//! The token endpoint's request side: client authentication and grant parsing.
//!
//! [`parse_token_request`] reads the form and the `Authorization` header into a [`TokenRequest`]
//! (client credentials and a [`Grant`]); [`TokenRequest::authenticate`] checks them against the
//! client's registration (secret digest compared in constant time) and that the client may use the
//! grant. The same [`parse_client_auth`] and [`authenticate_client`] serve the revocation and
//! introspection endpoints. Errors are [`TokenError`]s carrying their status and challenge.
//!
//! Accepted methods: `client_secret_basic` (the id and secret form-urlencoded before base64, RFC
//! 6749 section 2.3.1), `client_secret_post`, and `none` for public clients. A confidential client
//! may use either secret method whatever method it registered (as Keycloak does); a public client
//! must not send a secret; two methods in one request are refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::client::{AuthMethod, ClientKind, ClientRegistration, GrantType};
use crate::{ErrorCode, Params, ScopeSet, TokenError, scope};

/// How a client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    Basic {
        client_id: String,
        secret: Zeroizing<String>,
    },
    Post {
        client_id: String,
        secret: Zeroizing<String>,
    },
    None {
        client_id: String,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("method", &self.method())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. } | Self::Post { client_id, .. } | Self::None { client_id } => {
                client_id
            }
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Basic { .. } => AuthMethod::ClientSecretBasic,
            Self::Post { .. } => AuthMethod::ClientSecretPost,
            Self::None { .. } => AuthMethod::None,
        }
    }

    fn basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }
}

/// Reads the client's credentials from the `Authorization` header and the form.
pub fn parse_client_auth(params: &Params, authorization: Option<&str>) -> Result<ClientAuth, TokenError> {
    let form_id = params.single("client_id")?;
    let form_secret = params.single("client_secret")?;
    let Some(header) = authorization else {
        return match (form_id, form_secret) {
            (Some(client_id), Some(secret)) => Ok(ClientAuth::Post {
                client_id: client_id.to_owned(),
                secret: Zeroizing::new(secret.to_owned()),
            }),
            (Some(client_id), None) => Ok(ClientAuth::None {
                client_id: client_id.to_owned(),
            }),
            (None, _) => Err(TokenError::new(
                ErrorCode::InvalidClient,
                "client authentication is missing (HTTP Basic, or client_id in the form)",
            )),
        };
    };
    let (scheme, credentials) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::new(
            ErrorCode::InvalidRequest,
            format!("authorization scheme `{scheme}` is not supported here; use Basic"),
        ));
    }
    let bad =
        || TokenError::new(ErrorCode::InvalidClient, "the Basic credentials are malformed").with_basic(true);
    let decoded = Zeroizing::new(STANDARD.decode(credentials.trim()).map_err(|_| bad())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (raw_id, raw_secret) = text.split_once(':').ok_or_else(bad)?;
    let client_id = form_decode(raw_id);
    let secret = Zeroizing::new(form_decode(raw_secret));
    if client_id.is_empty() {
        return Err(bad());
    }
    if form_secret.is_some() {
        return Err(TokenError::new(
            ErrorCode::InvalidRequest,
            "use one client authentication method: Basic or client_secret in the form, not both",
        )
        .with_basic(true));
    }
    if form_id.is_some_and(|id| id != client_id) {
        return Err(TokenError::new(
            ErrorCode::InvalidClient,
            "the client_id in the form differs from the one in the Basic credentials",
        )
        .with_basic(true));
    }
    Ok(ClientAuth::Basic { client_id, secret })
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential part (`+` is a space).
fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A client whose credentials checked out.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedClient<'a> {
    pub registration: &'a ClientRegistration,
    pub method: AuthMethod,
}

impl AuthenticatedClient<'_> {
    pub fn client_id(&self) -> &str {
        &self.registration.client_id
    }
}

/// Checks the credentials against the registration of the client they name (`None` when there is
/// no such client). Every failure is the same `invalid_client`, so the answer does not say whether
/// the client exists.
pub fn authenticate_client<'a>(
    auth: &ClientAuth,
    client: Option<&'a ClientRegistration>,
) -> Result<AuthenticatedClient<'a>, TokenError> {
    let failed =
        || TokenError::new(ErrorCode::InvalidClient, "client authentication failed").with_basic(auth.basic());
    let client = client
        .filter(|c| c.client_id == auth.client_id())
        .ok_or_else(failed)?;
    match (client.kind, auth) {
        (ClientKind::Confidential, ClientAuth::Basic { secret, .. } | ClientAuth::Post { secret, .. }) => {
            let stored = client.secret_sha256_hex.as_deref().ok_or_else(failed)?;
            if gatehouse_crypto::digest::verify_sha256_hex(secret.as_bytes(), stored) {
                Ok(AuthenticatedClient {
                    registration: client,
                    method: auth.method(),
                })
            } else {
                Err(failed())
            }
        }
        (ClientKind::Public, ClientAuth::None { .. }) => Ok(AuthenticatedClient {
            registration: client,
            method: AuthMethod::None,
        }),
        (ClientKind::Public, _) => Err(TokenError::new(
            ErrorCode::InvalidClient,
            "a public client authenticates with `none` and must not send a secret",
        )
        .with_basic(auth.basic())),
        (ClientKind::Confidential, ClientAuth::None { .. }) => Err(failed()),
    }
}

/// The grant a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// A narrower scope than the original grant, if asked for.
        scope: Option<ScopeSet>,
    },
    ClientCredentials {
        scope: ScopeSet,
    },
}

impl Grant {
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// A parsed token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub client: ClientAuth,
    pub grant: Grant,
}

/// Parses a token request: client credentials first (so errors carry the Basic challenge), then
/// `grant_type` (`unsupported_grant_type` for others) and the grant's parameters.
pub fn parse_token_request(params: &Params, authorization: Option<&str>) -> Result<TokenRequest, TokenError> {
    let client = parse_client_auth(params, authorization)?;
    let basic = client.basic();
    let grant = parse_grant(params).map_err(|e| e.with_basic(basic))?;
    Ok(TokenRequest { client, grant })
}

fn parse_grant(params: &Params) -> Result<Grant, TokenError> {
    let required = |name: &str| -> Result<String, TokenError> {
        params.single(name)?.map(str::to_owned).ok_or_else(|| {
            TokenError::new(
                ErrorCode::InvalidRequest,
                format!("the `{name}` parameter is missing"),
            )
        })
    };
    let scope = |params: &Params| -> Result<Option<ScopeSet>, TokenError> {
        params
            .single("scope")?
            .map(|s| ScopeSet::parse(s).map_err(|e| TokenError::new(ErrorCode::InvalidScope, e.to_string())))
            .transpose()
    };
    match params.single("grant_type")? {
        None => Err(TokenError::new(
            ErrorCode::InvalidRequest,
            "the `grant_type` parameter is missing",
        )),
        Some("authorization_code") => Ok(Grant::AuthorizationCode {
            code: required("code")?,
            redirect_uri: params.single("redirect_uri")?.map(str::to_owned),
            code_verifier: params.single("code_verifier")?.map(str::to_owned),
        }),
        Some("refresh_token") => Ok(Grant::RefreshToken {
            refresh_token: required("refresh_token")?,
            scope: scope(params)?,
        }),
        Some("client_credentials") => Ok(Grant::ClientCredentials {
            scope: scope(params)?.unwrap_or_default(),
        }),
        Some(other) => Err(TokenError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type `{other}` is not supported"),
        )),
    }
}

impl TokenRequest {
    /// Authenticates the client (see [`authenticate_client`]) and checks that it may use the grant:
    /// registered for it (`unauthorized_client` otherwise), client credentials only for
    /// confidential clients and never with user scopes such as `openid` (`invalid_scope`).
    pub fn authenticate<'a>(
        &self,
        client: Option<&'a ClientRegistration>,
    ) -> Result<AuthenticatedClient<'a>, TokenError> {
        let authenticated = authenticate_client(&self.client, client)?;
        let basic = self.client.basic();
        let grant = self.grant.grant_type();
        let registration = authenticated.registration;
        if !registration.allows(grant)
            || (grant == GrantType::ClientCredentials && registration.kind == ClientKind::Public)
        {
            return Err(TokenError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "client `{}` may not use the {grant} grant",
                    registration.client_id
                ),
            )
            .with_basic(basic));
        }
        if let Grant::ClientCredentials { scope } = &self.grant
            && let Some(user_scope) = scope.iter().find(|s| scope::USER_SCOPES.contains(s))
        {
            return Err(TokenError::new(
                ErrorCode::InvalidScope,
                format!("scope `{user_scope}` needs a user and cannot be granted to client credentials"),
            )
            .with_basic(basic));
        }
        Ok(authenticated)
    }
}

/// A successful token response (RFC 6749 section 5.1; `token_type` is `Bearer`). The endpoint also
/// sends `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: ScopeSet,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl TokenResponse {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Written straight to the response body, without building a JSON value first.
impl serde::Serialize for TokenResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let fields = 4 + usize::from(self.refresh_token.is_some()) + usize::from(self.id_token.is_some());
        let mut body = serializer.serialize_map(Some(fields))?;
        body.serialize_entry("access_token", &self.access_token)?;
        body.serialize_entry("token_type", "Bearer")?;
        body.serialize_entry("expires_in", &self.expires_in)?;
        body.serialize_entry("scope", &self.scope.to_string())?;
        if let Some(refresh) = &self.refresh_token {
            body.serialize_entry("refresh_token", refresh)?;
        }
        if let Some(id_token) = &self.id_token {
            body.serialize_entry("id_token", id_token)?;
        }
        body.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_crypto::digest::sha256_hex;

    fn confidential() -> ClientRegistration {
        ClientRegistration {
            client_id: "dashboard".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec!["http://127.0.0.1:9000/callback".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            secret_sha256_hex: Some(sha256_hex(b"demo-dashboard-secret")),
        }
    }

    fn public() -> ClientRegistration {
        ClientRegistration {
            client_id: "cli".into(),
            kind: ClientKind::Public,
            secret_sha256_hex: None,
            ..confidential()
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        )
    }

    fn code_form() -> Vec<(&'static str, &'static str)> {
        vec![
            ("grant_type", "authorization_code"),
            ("code", "c1"),
            ("redirect_uri", "http://127.0.0.1:9000/callback"),
        ]
    }

    #[test]
    fn basic_and_post_authenticate_a_confidential_client() {
        let c = confidential();
        let params = Params::from_pairs(code_form());
        let req = parse_token_request(&params, Some(&basic("dashboard", "demo-dashboard-secret"))).unwrap();
        assert_eq!(req.client.method(), AuthMethod::ClientSecretBasic);
        assert_eq!(req.authenticate(Some(&c)).unwrap().client_id(), "dashboard");
        let mut form = code_form();
        form.extend([
            ("client_id", "dashboard"),
            ("client_secret", "demo-dashboard-secret"),
        ]);
        let req = parse_token_request(&Params::from_pairs(form), None).unwrap();
        assert_eq!(req.client.method(), AuthMethod::ClientSecretPost);
        assert!(req.authenticate(Some(&c)).is_ok());
        assert!(!format!("{:?}", req.client).contains("demo-dashboard-secret"));
    }

    #[test]
    fn basic_credentials_are_form_urlencoded() {
        let mut c = confidential();
        c.client_id = "my app:1".into();
        c.secret_sha256_hex = Some(sha256_hex(b"p@ss:w+rd %"));
        let header = basic("my app:1", "p@ss:w+rd %");
        assert!(header.len() > 6);
        let req = parse_token_request(&Params::from_pairs(code_form()), Some(&header)).unwrap();
        assert_eq!(req.client.client_id(), "my app:1");
        assert!(req.authenticate(Some(&c)).is_ok());
        // A raw (unencoded) `+` means a space.
        let raw = format!("Basic {}", STANDARD.encode("dashboard:a+b"));
        let ClientAuth::Basic { secret, .. } = parse_client_auth(&Params::default(), Some(&raw)).unwrap()
        else {
            panic!("basic")
        };
        assert_eq!(secret.as_str(), "a b");
    }

    #[test]
    fn wrong_or_missing_credentials_are_invalid_client_with_the_right_challenge() {
        let c = confidential();
        let params = Params::from_pairs(code_form());
        let err = parse_token_request(&params, Some(&basic("dashboard", "wrong")))
            .unwrap()
            .authenticate(Some(&c))
            .unwrap_err();
        assert_eq!((err.code(), err.status()), (ErrorCode::InvalidClient, 401));
        assert_eq!(
            err.www_authenticate().as_deref(),
            Some("Basic realm=\"gatehouse\"")
        );
        let unknown = parse_token_request(&params, Some(&basic("nobody", "x")))
            .unwrap()
            .authenticate(None)
            .unwrap_err();
        assert_eq!(
            unknown.error.description, err.error.description,
            "no hint whether the client exists"
        );
        let mut form = code_form();
        form.extend([("client_id", "dashboard"), ("client_secret", "wrong")]);
        let post = parse_token_request(&Params::from_pairs(form), None)
            .unwrap()
            .authenticate(Some(&c))
            .unwrap_err();
        assert_eq!(post.status(), 401);
        assert_eq!(post.www_authenticate(), None);
        let mut form = code_form();
        form.push(("client_id", "dashboard"));
        let none = parse_token_request(&Params::from_pairs(form), None)
            .unwrap()
            .authenticate(Some(&c))
            .unwrap_err();
        assert_eq!(none.code(), ErrorCode::InvalidClient);
        assert_eq!(
            parse_token_request(&params, None).unwrap_err().code(),
            ErrorCode::InvalidClient
        );
        for malformed in ["Basic !!!", "Basic ZGFzaGJvYXJk", "Basic OnNlY3JldA=="] {
            let e = parse_token_request(&params, Some(malformed)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidClient, "{malformed}");
            assert!(e.www_authenticate().is_some());
        }
        assert_eq!(
            parse_token_request(&params, Some("Bearer abc"))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn mixed_methods_are_refused() {
        let mut form = code_form();
        form.push(("client_secret", "demo-dashboard-secret"));
        let e = parse_token_request(
            &Params::from_pairs(form),
            Some(&basic("dashboard", "demo-dashboard-secret")),
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        let mut form = code_form();
        form.push(("client_id", "finance"));
        let e = parse_token_request(
            &Params::from_pairs(form),
            Some(&basic("dashboard", "demo-dashboard-secret")),
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidClient);
        let mut form = code_form();
        form.push(("client_id", "dashboard"));
        assert!(
            parse_token_request(
                &Params::from_pairs(form),
                Some(&basic("dashboard", "demo-dashboard-secret"))
            )
            .is_ok()
        );
    }

    #[test]
    fn public_clients_use_none_and_never_a_secret() {
        let p = public();
        let mut form = code_form();
        form.push(("client_id", "cli"));
        let req = parse_token_request(&Params::from_pairs(form), None).unwrap();
        assert_eq!(req.authenticate(Some(&p)).unwrap().method, AuthMethod::None);
        let mut form = code_form();
        form.extend([("client_id", "cli"), ("client_secret", "anything")]);
        let e = parse_token_request(&Params::from_pairs(form), None)
            .unwrap()
            .authenticate(Some(&p))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidClient);
    }

    #[test]
    fn grants_parse_and_are_checked_against_the_registration() {
        let auth = Some(basic("dashboard", "demo-dashboard-secret"));
        let parse =
            |form: &[(&str, &str)]| parse_token_request(&Params::from_pairs(form.to_vec()), auth.as_deref());
        assert_eq!(parse(&[]).unwrap_err().code(), ErrorCode::InvalidRequest);
        assert_eq!(
            parse(&[("grant_type", "password")]).unwrap_err().code(),
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            parse(&[("grant_type", "authorization_code")]).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse(&[("grant_type", "refresh_token")]).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        let dup = parse(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "a"),
            ("refresh_token", "b"),
        ]);
        assert_eq!(dup.unwrap_err().code(), ErrorCode::InvalidRequest);
        let refresh = parse(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r1"),
            ("scope", "openid"),
        ])
        .unwrap();
        assert_eq!(
            refresh.grant,
            Grant::RefreshToken {
                refresh_token: "r1".into(),
                scope: Some(ScopeSet::parse("openid").unwrap())
            }
        );
        let c = confidential();
        let cc = parse(&[("grant_type", "client_credentials"), ("scope", "reports.read")]).unwrap();
        let e = cc.authenticate(Some(&c)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnauthorizedClient);
        let mut service = confidential();
        service.grant_types = vec![GrantType::ClientCredentials];
        assert!(cc.authenticate(Some(&service)).is_ok());
        let with_openid = parse(&[
            ("grant_type", "client_credentials"),
            ("scope", "reports.read openid"),
        ])
        .unwrap();
        assert_eq!(
            with_openid.authenticate(Some(&service)).unwrap_err().code(),
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn token_response_json() {
        let r = TokenResponse {
            access_token: "at".into(),
            expires_in: 3600,
            scope: ScopeSet::parse("openid profile").unwrap(),
            refresh_token: Some("rt".into()),
            id_token: None,
        };
        assert_eq!(
            r.to_json(),
            serde_json::json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile", "refresh_token": "rt"})
        );
        // The body as sent: the same object, with an ID token when there is one.
        let with_id_token = TokenResponse {
            id_token: Some("it".into()),
            ..r
        };
        let sent: Value = serde_json::from_slice(&serde_json::to_vec(&with_id_token).unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile", "refresh_token": "rt", "id_token": "it"})
        );
    }
}
