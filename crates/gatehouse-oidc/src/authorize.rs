//! The authorization request: validation, the session decision (`prompt`, `max_age`) and the
//! redirect back to the client.
//!
//! [`validate_authorize`] takes the request's parameters and the client they name (the caller looks
//! it up with [`client_id`]) and returns an [`AuthorizeOutcome`]:
//! - a bad or unknown client, or a redirect URI that is missing, repeated or not registered
//!   byte for byte, is an [`AuthorizeOutcome::ErrorPage`]: shown to the user, never redirected to;
//! - every other error goes back to the client's redirect URI with `error`, `error_description`,
//!   `state` and `iss` ([`AuthorizeOutcome::Redirect`]);
//! - a valid request becomes an [`AuthorizationRequest`], which the flow stores (it is serde) and
//!   finally answers with [`AuthorizationRequest::success_redirect`] or
//!   [`AuthorizationRequest::error_redirect`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::assurance::{StepUp, choose_acr};
use crate::client::{ClientKind, ClientRegistration, GrantType};
use crate::{ErrorCode, Issuer, Params, ProtocolError, ScopeSet, scope};

/// Longest accepted `state`, `nonce`, `login_hint` or `acr_values` (bytes).
pub const MAX_PARAM_LEN: usize = 2048;

/// The `client_id` of an authorization request, for looking the client up (`None` when absent or
/// repeated; [`validate_authorize`] then answers with an error page).
pub fn client_id(params: &Params) -> Option<&str> {
    params.lenient("client_id")
}

/// The `prompt` values of OIDC Core section 3.1.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A validated authorization request: what the flow keeps until it can answer the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// Exactly as registered (and as sent).
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 `code_challenge`, when PKCE is used (`plain` is never accepted).
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// `acr_values` as sent, space-separated, in the client's order of preference.
    pub acr_values: Option<String>,
    pub login_hint: Option<String>,
}

/// The answer to an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Valid: start (or continue) a sign-in flow for it.
    Valid(AuthorizationRequest),
    /// Show this error to the user; never redirect (unknown client or unregistered redirect URI).
    ErrorPage(ProtocolError),
    /// Send the browser to `location`: the client's redirect URI carrying the error.
    Redirect { location: String, error: ProtocolError },
}

/// Validates an authorization request against the client it names (`None` when no client has
/// that id). See the module documentation for which errors are shown and which are redirected.
pub fn validate_authorize(
    params: &Params,
    client: Option<&ClientRegistration>,
    issuer: &Issuer,
) -> AuthorizeOutcome {
    let client_id = match params.single("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => {
            return AuthorizeOutcome::ErrorPage(ProtocolError::invalid_request(
                "the `client_id` parameter is missing",
            ));
        }
        Err(e) => return AuthorizeOutcome::ErrorPage(e),
    };
    let Some(client) = client.filter(|c| c.client_id == client_id) else {
        return AuthorizeOutcome::ErrorPage(ProtocolError::new(
            ErrorCode::InvalidClient,
            format!("client `{client_id}` is not registered"),
        ));
    };
    let redirect_uri = match params.single("redirect_uri") {
        Ok(Some(uri)) => uri,
        Ok(None) => {
            return AuthorizeOutcome::ErrorPage(ProtocolError::invalid_request(
                "the `redirect_uri` parameter is missing",
            ));
        }
        Err(e) => return AuthorizeOutcome::ErrorPage(e),
    };
    if !client.has_redirect_uri(redirect_uri) {
        return AuthorizeOutcome::ErrorPage(ProtocolError::invalid_request(format!(
            "redirect_uri `{redirect_uri}` is not registered for client `{client_id}`; it must match a registered redirect URI exactly"
        )));
    }
    // From here on, errors go back to the client.
    // A state too long to be valid is not echoed back either.
    let state = params.lenient("state").filter(|s| s.len() <= MAX_PARAM_LEN);
    match check_request(params, client, redirect_uri) {
        Ok(request) => AuthorizeOutcome::Valid(request),
        Err(error) => AuthorizeOutcome::Redirect {
            location: error_location(redirect_uri, &error, state, issuer),
            error,
        },
    }
}

fn check_request(
    params: &Params,
    client: &ClientRegistration,
    redirect_uri: &str,
) -> Result<AuthorizationRequest, ProtocolError> {
    let get = |name: &str| params.single(name);
    let bounded = |name: &str| -> Result<Option<String>, ProtocolError> {
        match get(name)? {
            Some(v) if v.len() > MAX_PARAM_LEN => Err(ProtocolError::invalid_request(format!(
                "`{name}` is longer than {MAX_PARAM_LEN} bytes"
            ))),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let state = bounded("state")?;
    if get("request")?.is_some() {
        return Err(ProtocolError::new(
            ErrorCode::RequestNotSupported,
            "request objects (`request`) are not supported",
        ));
    }
    if get("request_uri")?.is_some() {
        return Err(ProtocolError::new(
            ErrorCode::RequestUriNotSupported,
            "`request_uri` is not supported",
        ));
    }
    if get("registration")?.is_some() {
        return Err(ProtocolError::new(
            ErrorCode::RegistrationNotSupported,
            "the `registration` parameter is not supported",
        ));
    }
    match get("response_type")? {
        None => {
            return Err(ProtocolError::invalid_request(
                "the `response_type` parameter is missing",
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err(ProtocolError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported; use `code`"),
            ));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(ProtocolError::new(
            ErrorCode::UnauthorizedClient,
            format!(
                "client `{}` may not use the authorization code grant",
                client.client_id
            ),
        ));
    }
    match get("response_mode")? {
        None | Some("query") => {}
        Some(other) => {
            return Err(ProtocolError::invalid_request(format!(
                "response_mode `{other}` is not supported; use `query`"
            )));
        }
    }
    let scope = match get("scope")? {
        None => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidScope,
                "the `scope` parameter is missing",
            ));
        }
        Some(text) => {
            ScopeSet::parse(text).map_err(|e| ProtocolError::new(ErrorCode::InvalidScope, e.to_string()))?
        }
    };
    if !scope.contains(scope::OPENID) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidScope,
            "the scope must include `openid`",
        ));
    }
    let code_challenge = pkce(params, client)?;
    let prompt = prompt(get("prompt")?)?;
    let max_age = match get("max_age")? {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            ProtocolError::invalid_request(format!("max_age `{text}` is not a number of seconds"))
        })?),
    };
    let acr_values = bounded("acr_values")?;
    if let Some(acr) = &acr_values
        && acr.split(' ').any(|v| v.chars().any(char::is_control))
    {
        return Err(ProtocolError::invalid_request(
            "`acr_values` contains control characters",
        ));
    }
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state,
        nonce: bounded("nonce")?,
        code_challenge,
        prompt,
        max_age,
        acr_values,
        login_hint: bounded("login_hint")?,
    })
}

fn pkce(params: &Params, client: &ClientRegistration) -> Result<Option<String>, ProtocolError> {
    let challenge = params.single("code_challenge")?;
    let method = params.single("code_challenge_method")?;
    match (challenge, method) {
        (None, None) if client.kind == ClientKind::Public => Err(ProtocolError::invalid_request(
            "PKCE is required for public clients: send `code_challenge` with `code_challenge_method=S256`",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ProtocolError::invalid_request(
            "`code_challenge_method` was sent without `code_challenge`",
        )),
        (Some(_), None | Some("plain")) => Err(ProtocolError::invalid_request(
            "code_challenge_method must be `S256`; `plain` is not accepted",
        )),
        (Some(_), Some(other)) if other != "S256" => Err(ProtocolError::invalid_request(format!(
            "code_challenge_method `{other}` is not supported; use `S256`"
        ))),
        (Some(challenge), Some(_)) => {
            // BASE64URL(SHA-256) is exactly 43 characters of the base64url alphabet.
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(challenge.to_owned()))
            } else {
                Err(ProtocolError::invalid_request(
                    "`code_challenge` must be the 43-character base64url SHA-256 of the code verifier",
                ))
            }
        }
    }
}

fn prompt(text: Option<&str>) -> Result<Prompt, ProtocolError> {
    let mut prompt = Prompt::default();
    for value in text.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            other => {
                return Err(ProtocolError::invalid_request(format!(
                    "prompt `{other}` is not supported"
                )));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err(ProtocolError::invalid_request(
            "prompt `none` cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// What the existing global session means for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionDecision {
    /// Continue with the session's verification records (the policy may still ask for more).
    UseSession,
    /// No session: sign in.
    SignIn,
    /// A session exists but must be proven again (`prompt=login`, `prompt=select_account`,
    /// `max_age` exceeded): only records made in this sign-in count.
    SignInAgain,
    /// `prompt=none` cannot be honoured: answer the client with this error (`login_required`).
    Fail(ProtocolError),
}

impl AuthorizationRequest {
    /// The step-up this request adds to the app's policy (`acr_values`, `max_age`, `prompt=login`).
    pub fn step_up(&self) -> StepUp {
        StepUp {
            acr: self.acr_values.as_deref().and_then(choose_acr),
            max_age: self.max_age,
            force_reauthentication: self.prompt.login
                || self.prompt.select_account
                || self.max_age == Some(0),
        }
    }

    /// Whether the user may be shown any page (false for `prompt=none`).
    pub fn interaction_allowed(&self) -> bool {
        !self.prompt.none
    }

    /// Decides how the current global session (its `auth_time`, if there is one) serves this
    /// request, per OIDC Core `prompt` and `max_age`.
    pub fn session_decision(&self, session_auth_time: Option<Timestamp>, now: Timestamp) -> SessionDecision {
        let step_up = self.step_up();
        match session_auth_time {
            None if self.prompt.none => SessionDecision::Fail(ProtocolError::new(
                ErrorCode::LoginRequired,
                "no one is signed in and prompt=none forbids asking",
            )),
            None => SessionDecision::SignIn,
            Some(auth_time) if self.prompt.none && step_up.is_too_old(auth_time, now) => {
                SessionDecision::Fail(ProtocolError::new(
                    ErrorCode::LoginRequired,
                    "the sign-in is older than max_age and prompt=none forbids asking",
                ))
            }
            Some(_) if step_up.force_reauthentication => SessionDecision::SignInAgain,
            Some(auth_time) if step_up.is_too_old(auth_time, now) => SessionDecision::SignInAgain,
            Some(_) => SessionDecision::UseSession,
        }
    }

    /// The error for `prompt=none` when the policy would need the user (more factors, enrollment):
    /// `interaction_required`.
    pub fn interaction_required(&self) -> ProtocolError {
        ProtocolError::new(
            ErrorCode::InteractionRequired,
            "the sign-in needs the user and prompt=none forbids asking",
        )
    }

    /// The redirect that hands the client its code: `code`, `state` and `iss` (RFC 9207).
    pub fn success_redirect(&self, code: &str, issuer: &Issuer) -> String {
        let mut pairs = vec![("code", code)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer.as_str()));
        append_query(&self.redirect_uri, &pairs)
    }

    /// The redirect that tells the client the request failed (a policy denial, `login_required`,
    /// a cancelled flow…).
    pub fn error_redirect(&self, error: &ProtocolError, issuer: &Issuer) -> String {
        error_location(&self.redirect_uri, error, self.state.as_deref(), issuer)
    }
}

fn error_location(redirect_uri: &str, error: &ProtocolError, state: Option<&str>, issuer: &Issuer) -> String {
    let mut pairs = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer.as_str()));
    append_query(redirect_uri, &pairs)
}

/// Appends form-encoded pairs to a URI's query, keeping whatever query it already has.
pub fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let separator = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with('?') || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{uri}{separator}{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assurance::Acr;

    fn issuer() -> Issuer {
        Issuer::parse("http://localhost:8080").unwrap()
    }

    fn client(kind: ClientKind) -> ClientRegistration {
        ClientRegistration {
            client_id: "dashboard".into(),
            kind,
            redirect_uris: vec!["http://127.0.0.1:9000/callback".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            secret_sha256_hex: None,
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// Parameter changes to the base request: `None` removes the parameter.
    type Changes = Vec<(&'static str, Option<&'static str>)>;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "dashboard"),
            ("redirect_uri", "http://127.0.0.1:9000/callback"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "xyz"),
            ("nonce", "n1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn with(changes: &[(&'static str, Option<&'static str>)]) -> Params {
        let mut pairs = base();
        for (name, value) in changes {
            pairs.retain(|(k, _)| k != name);
            if let Some(v) = value {
                pairs.push((name, v));
            }
        }
        Params::from_pairs(pairs)
    }

    fn outcome(changes: &[(&'static str, Option<&'static str>)], kind: ClientKind) -> AuthorizeOutcome {
        validate_authorize(&with(changes), Some(&client(kind)), &issuer())
    }

    fn redirected(changes: &[(&'static str, Option<&'static str>)], kind: ClientKind) -> (ErrorCode, String) {
        match outcome(changes, kind) {
            AuthorizeOutcome::Redirect { location, error } => (error.code, location),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_is_kept_whole() {
        let AuthorizeOutcome::Valid(req) = outcome(
            &[
                ("prompt", Some("login")),
                ("max_age", Some("300")),
                ("acr_values", Some("urn:x phr")),
                ("login_hint", Some("alice")),
            ],
            ClientKind::Public,
        ) else {
            panic!("valid")
        };
        assert_eq!(req.redirect_uri, "http://127.0.0.1:9000/callback");
        assert_eq!(req.scope.to_string(), "openid profile");
        assert_eq!(req.state.as_deref(), Some("xyz"));
        assert_eq!(req.nonce.as_deref(), Some("n1"));
        assert_eq!(req.code_challenge.as_deref(), Some(CHALLENGE));
        assert!(req.prompt.login);
        assert_eq!(req.max_age, Some(300));
        assert_eq!(req.login_hint.as_deref(), Some("alice"));
        let step = req.step_up();
        assert_eq!(step.acr, Some(Acr::PhishingResistant));
        assert!(step.force_reauthentication);
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(serde_json::from_str::<AuthorizationRequest>(&json).unwrap(), req);
    }

    #[test]
    fn bad_client_or_redirect_is_an_error_page_never_a_redirect() {
        let page = |params: Params, client: Option<&ClientRegistration>| match validate_authorize(
            &params,
            client,
            &issuer(),
        ) {
            AuthorizeOutcome::ErrorPage(e) => e,
            other => panic!("expected an error page, got {other:?}"),
        };
        let c = client(ClientKind::Confidential);
        assert_eq!(page(with(&[]), None).code, ErrorCode::InvalidClient);
        assert_eq!(
            page(with(&[("client_id", None)]), Some(&c)).code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            page(with(&[("client_id", Some("finance"))]), Some(&c)).code,
            ErrorCode::InvalidClient
        );
        assert!(
            page(with(&[("redirect_uri", None)]), Some(&c))
                .description
                .contains("missing")
        );
        let mismatch = page(
            with(&[("redirect_uri", Some("http://127.0.0.1:9000/callback/"))]),
            Some(&c),
        );
        assert!(
            mismatch.description.contains("http://127.0.0.1:9000/callback/"),
            "{mismatch}"
        );
        let mut dup = base();
        dup.push(("redirect_uri", "https://evil.example/cb"));
        assert_eq!(
            page(Params::from_pairs(dup), Some(&c)).code,
            ErrorCode::InvalidRequest
        );
        // Even with every other parameter wrong, a bad redirect URI is never redirected to.
        let params = Params::from_pairs([
            ("client_id", "dashboard"),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "token"),
        ]);
        assert!(matches!(page(params, Some(&c)).code, ErrorCode::InvalidRequest));
    }

    #[test]
    fn other_errors_go_back_with_state_and_iss() {
        let (code, location) = redirected(&[("response_type", Some("token"))], ClientKind::Confidential);
        assert_eq!(code, ErrorCode::UnsupportedResponseType);
        assert!(location.starts_with(
            "http://127.0.0.1:9000/callback?error=unsupported_response_type&error_description="
        ));
        assert!(
            location.ends_with("&state=xyz&iss=http%3A%2F%2Flocalhost%3A8080"),
            "{location}"
        );
        let cases: Vec<(Changes, ErrorCode)> = vec![
            (vec![("response_type", None)], ErrorCode::InvalidRequest),
            (vec![("scope", None)], ErrorCode::InvalidScope),
            (vec![("scope", Some("profile email"))], ErrorCode::InvalidScope),
            (
                vec![("scope", Some("openid bad\"scope"))],
                ErrorCode::InvalidScope,
            ),
            (
                vec![("response_mode", Some("fragment"))],
                ErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge_method", Some("plain"))],
                ErrorCode::InvalidRequest,
            ),
            (vec![("code_challenge_method", None)], ErrorCode::InvalidRequest),
            (
                vec![("code_challenge_method", Some("S512"))],
                ErrorCode::InvalidRequest,
            ),
            (
                vec![("code_challenge", Some("too-short"))],
                ErrorCode::InvalidRequest,
            ),
            (vec![("code_challenge", None)], ErrorCode::InvalidRequest),
            (vec![("prompt", Some("none login"))], ErrorCode::InvalidRequest),
            (vec![("prompt", Some("always"))], ErrorCode::InvalidRequest),
            (vec![("max_age", Some("-1"))], ErrorCode::InvalidRequest),
            (vec![("request", Some("eyJ..."))], ErrorCode::RequestNotSupported),
            (
                vec![("request_uri", Some("https://x"))],
                ErrorCode::RequestUriNotSupported,
            ),
            (
                vec![("registration", Some("{}"))],
                ErrorCode::RegistrationNotSupported,
            ),
        ];
        for (changes, expected) in cases {
            assert_eq!(
                redirected(&changes, ClientKind::Confidential).0,
                expected,
                "{changes:?}"
            );
        }
        let long: &'static str = Box::leak("n".repeat(MAX_PARAM_LEN + 1).into_boxed_str());
        assert_eq!(
            redirected(&[("nonce", Some(long))], ClientKind::Confidential).0,
            ErrorCode::InvalidRequest
        );
        let (code, location) = redirected(&[("state", Some(long))], ClientKind::Confidential);
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(
            !location.contains("state="),
            "an over-long state is not echoed back"
        );
        // A repeated parameter is refused; a repeated state is not echoed back.
        let mut pairs = base();
        pairs.push(("state", "second"));
        let AuthorizeOutcome::Redirect { location, error } = validate_authorize(
            &Params::from_pairs(pairs),
            Some(&client(ClientKind::Confidential)),
            &issuer(),
        ) else {
            panic!("redirect")
        };
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert!(!location.contains("state="));
    }

    #[test]
    fn pkce_rules_by_client_kind() {
        let none = [("code_challenge", None), ("code_challenge_method", None)];
        let (code, location) = redirected(&none, ClientKind::Public);
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(location.contains("PKCE"));
        let AuthorizeOutcome::Valid(req) = outcome(&none, ClientKind::Confidential) else {
            panic!("confidential clients may skip PKCE")
        };
        assert_eq!(req.code_challenge, None);
    }

    #[test]
    fn clients_without_the_code_grant_are_refused() {
        let mut c = client(ClientKind::Confidential);
        c.grant_types = vec![GrantType::ClientCredentials];
        let AuthorizeOutcome::Redirect { error, .. } = validate_authorize(&with(&[]), Some(&c), &issuer())
        else {
            panic!("redirect")
        };
        assert_eq!(error.code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn session_decisions_follow_prompt_and_max_age() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let req = |changes: &[(&'static str, Option<&'static str>)]| match outcome(
            changes,
            ClientKind::Confidential,
        ) {
            AuthorizeOutcome::Valid(r) => r,
            other => panic!("{other:?}"),
        };
        let plain = req(&[]);
        assert_eq!(plain.session_decision(None, t(1000)), SessionDecision::SignIn);
        assert_eq!(
            plain.session_decision(Some(t(10)), t(1000)),
            SessionDecision::UseSession
        );
        let none = req(&[("prompt", Some("none"))]);
        assert!(!none.interaction_allowed());
        assert!(matches!(
            none.session_decision(None, t(1000)),
            SessionDecision::Fail(ProtocolError {
                code: ErrorCode::LoginRequired,
                ..
            })
        ));
        assert_eq!(
            none.session_decision(Some(t(10)), t(1000)),
            SessionDecision::UseSession
        );
        assert_eq!(none.interaction_required().code, ErrorCode::InteractionRequired);
        let none_aged = req(&[("prompt", Some("none")), ("max_age", Some("60"))]);
        assert!(matches!(
            none_aged.session_decision(Some(t(10)), t(1000)),
            SessionDecision::Fail(_)
        ));
        assert_eq!(
            none_aged.session_decision(Some(t(990)), t(1000)),
            SessionDecision::UseSession
        );
        let login = req(&[("prompt", Some("login"))]);
        assert_eq!(
            login.session_decision(Some(t(999)), t(1000)),
            SessionDecision::SignInAgain
        );
        let aged = req(&[("max_age", Some("60"))]);
        assert_eq!(
            aged.session_decision(Some(t(900)), t(1000)),
            SessionDecision::SignInAgain
        );
        assert_eq!(
            aged.session_decision(Some(t(950)), t(1000)),
            SessionDecision::UseSession
        );
        let zero = req(&[("max_age", Some("0"))]);
        assert_eq!(
            zero.session_decision(Some(t(1000)), t(1000)),
            SessionDecision::SignInAgain
        );
    }

    #[test]
    fn success_and_error_redirects() {
        let AuthorizeOutcome::Valid(req) = outcome(&[("state", Some("a b&c"))], ClientKind::Confidential)
        else {
            panic!("valid")
        };
        assert_eq!(
            req.success_redirect("code123", &issuer()),
            "http://127.0.0.1:9000/callback?code=code123&state=a+b%26c&iss=http%3A%2F%2Flocalhost%3A8080"
        );
        let denied = req.error_redirect(&ProtocolError::policy_failed(), &issuer());
        assert!(
            denied
                .contains("error=access_denied&error_description=Policy+evaluation+failed+for+this+request."),
            "{denied}"
        );
        assert_eq!(
            append_query("https://a/cb?x=1", &[("code", "c")]),
            "https://a/cb?x=1&code=c"
        );
        assert_eq!(
            append_query("https://a/cb?", &[("code", "c")]),
            "https://a/cb?code=c"
        );
    }
}
