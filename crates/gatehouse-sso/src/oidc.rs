//! The relying-party side of OpenID Connect, on the `openidconnect` crate, with the gaps it
//! leaves closed:
//!
//! - **leeway**: the crate compares `exp` strictly with its time function; we give it our clock
//!   minus [`TOKEN_LEEWAY`], which is also how tests move time;
//! - **`iat`**: the crate accepts any issue time; we refuse one further in the future than the
//!   leeway;
//! - **algorithms**: the crate allows RS256 only by default; we allow the asymmetric algorithms
//!   the IdP's discovery document lists (ES256 for Gatehouse, RS256 for most others), never
//!   `none` or a shared-secret MAC;
//! - **key rotation**: on an unknown `kid` the crate fails with `NoMatchingKey`; we refetch the
//!   JWKS once and retry, at most once per [`JWKS_REFETCH_INTERVAL`] per issuer, so a flood of
//!   tokens signed by a never-published key cannot make us hammer the IdP.
//!
//! Discovery is done here rather than by the crate so its failures can say what was expected and
//! what came back, and so a registered issuer differing from the discovered one only by a
//! trailing slash still works. Discovered providers are cached for [`DISCOVERY_TTL`].

pub mod probe;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientSecret, CsrfToken, IssuerUrl,
    JwsSigningAlgorithm as _, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, SignatureVerificationError, TokenResponse as _,
};
use time::OffsetDateTime;

pub use transport::Transport;

use crate::SsoError;
use crate::clock::Clock;
use crate::domain::advice::{Actor, Advice, Detail};
use crate::domain::login::{check_issued_at, expiry_reference};
use crate::domain::{Issuer, TOKEN_LEEWAY};

/// How long a discovery document (and its JWKS) is reused.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(5 * 60);

/// The least time between two JWKS refetches caused by an unknown key id, per issuer.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// A discovered identity provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The issuer as the IdP states it (what ID tokens must carry in `iss`).
    pub issuer: String,
    pub metadata: CoreProviderMetadata,
    /// The asymmetric ID-token algorithms the IdP lists.
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    fetched_at: OffsetDateTime,
}

impl Provider {
    pub fn authorization_endpoint(&self) -> String {
        self.metadata.authorization_endpoint().to_string()
    }

    pub fn token_endpoint(&self) -> Option<String> {
        self.metadata.token_endpoint().map(|t| t.to_string())
    }

    /// Names of the allowed ID-token algorithms, for messages.
    pub fn algorithm_names(&self) -> Vec<String> {
        self.algorithms
            .iter()
            .filter_map(|a| serde_json::to_value(a).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
}

/// The tenant's client registration at its IdP, as the OIDC code needs it.
#[derive(Debug, Clone)]
pub struct ClientRegistration<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
}

/// What a validated ID token says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// The per-login secrets the authorization request is built from.
#[derive(Debug, Clone)]
pub struct LoginSecrets {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

#[derive(Debug, Default)]
struct Cache {
    providers: HashMap<String, Arc<Provider>>,
    last_jwks_refetch: HashMap<String, OffsetDateTime>,
}

/// The gateway's OpenID Connect client side.
#[derive(Debug)]
pub struct Oidc {
    http: Transport,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
}

impl Oidc {
    pub fn new(http: Transport, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            clock,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.http
    }

    /// The IdP's discovery document and JWKS, from cache when fresh.
    pub async fn discover(&self, issuer: &Issuer) -> Result<Arc<Provider>, SsoError> {
        let now = self.clock.now();
        if let Some(p) = self.cached(issuer.as_str())
            && now - p.fetched_at < DISCOVERY_TTL
        {
            return Ok(p);
        }
        let provider = Arc::new(self.fetch_provider(issuer).await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache
                .providers
                .insert(issuer.as_str().to_owned(), provider.clone());
        }
        Ok(provider)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Provider>> {
        self.cache
            .lock()
            .ok()
            .and_then(|c| c.providers.get(issuer).cloned())
    }

    async fn fetch_provider(&self, issuer: &Issuer) -> Result<Provider, SsoError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.as_str().trim_end_matches('/')
        );
        let body = self.get_json(&url, "discovery document", issuer).await?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body).map_err(|e| {
            upstream(
                "idp_discovery_failed",
                format!("the discovery document at `{url}` is not valid OpenID Connect metadata: {e}"),
                Actor::IdpAdmin,
                "The identity provider's discovery document could not be read. Its administrator must \
                 check the issuer's /.well-known/openid-configuration.",
                vec![Detail::new(
                    "discovery document",
                    "OpenID Provider Metadata (JSON)",
                    e.to_string(),
                )],
            )
        })?;
        let discovered = metadata.issuer().as_str().to_owned();
        if discovered != issuer.as_str() && !issuer.same_up_to_trailing_slash(&discovered) {
            return Err(upstream(
                "issuer_mismatch",
                format!(
                    "the identity provider says its issuer is `{discovered}`, but the tenant is registered with \
                     `{issuer}`"
                ),
                Actor::Operator,
                "The operator of this service must register the tenant with the issuer the identity provider \
                 announces (PATCH /admin/tenants/{slug} with the right `issuer`).",
                vec![Detail::new("issuer", issuer.as_str(), discovered)],
            ));
        }
        let algorithms: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| !a.uses_shared_secret() && **a != CoreJwsSigningAlgorithm::None)
            .cloned()
            .collect();
        if algorithms.is_empty() {
            return Err(upstream(
                "idp_discovery_failed",
                "the identity provider lists no asymmetric ID-token signing algorithm".into(),
                Actor::IdpAdmin,
                "ID tokens must be signed with a public-key algorithm such as ES256 or RS256. The identity \
                 provider's administrator must enable one.",
                vec![Detail::new(
                    "id_token_signing_alg_values_supported",
                    "ES256, RS256, PS256 or EdDSA",
                    "only shared-secret or `none` algorithms",
                )],
            ));
        }
        let jwks = self.fetch_jwks(&metadata, issuer).await?;
        Ok(Provider {
            issuer: discovered,
            metadata: metadata.set_jwks(jwks),
            algorithms,
            fetched_at: self.clock.now(),
        })
    }

    async fn fetch_jwks(
        &self,
        metadata: &CoreProviderMetadata,
        issuer: &Issuer,
    ) -> Result<CoreJsonWebKeySet, SsoError> {
        let url = metadata.jwks_uri().to_string();
        let body = self.get_json(&url, "JWKS", issuer).await?;
        serde_json::from_slice(&body).map_err(|e| {
            upstream(
                "idp_discovery_failed",
                format!("the JWKS at `{url}` is not a JSON Web Key Set: {e}"),
                Actor::IdpAdmin,
                "The identity provider's signing keys could not be read.",
                vec![Detail::new("JWKS", "a JSON Web Key Set", e.to_string())],
            )
        })
    }

    async fn get_json(&self, url: &str, what: &str, issuer: &Issuer) -> Result<Vec<u8>, SsoError> {
        let request = self.http.client().get(url).header("accept", "application/json");
        let (status, headers, body) = self.http.send(request).await.map_err(|e| {
            upstream(
                "idp_unreachable",
                format!("the identity provider's {what} at `{url}` could not be fetched: {e}"),
                Actor::Operator,
                &format!(
                    "Check that the tenant's issuer `{issuer}` is right and that this service can reach it; if \
                     it is, the identity provider is down and its administrator must act."
                ),
                vec![Detail::new(what, format!("HTTP 200 from {url}"), e.to_string())],
            )
        })?;
        if status.is_redirection() {
            let location = headers
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or("(no Location)")
                .to_owned();
            return Err(upstream(
                "idp_discovery_failed",
                format!(
                    "the identity provider's {what} at `{url}` redirects to `{location}`; redirects are not followed"
                ),
                Actor::Operator,
                "Register the tenant with the issuer URL the identity provider really uses (redirects are \
                 refused to keep the gateway from being sent elsewhere).",
                vec![Detail::new(
                    what,
                    format!("HTTP 200 from {url}"),
                    format!("HTTP {status} to {location}"),
                )],
            ));
        }
        if !status.is_success() {
            return Err(upstream(
                "idp_discovery_failed",
                format!("the identity provider's {what} at `{url}` answered HTTP {status}"),
                Actor::Operator,
                &format!(
                    "Check the tenant's issuer `{issuer}`: its /.well-known/openid-configuration must answer with \
                     the provider's metadata."
                ),
                vec![Detail::new(
                    what,
                    format!("HTTP 200 from {url}"),
                    format!("HTTP {status}"),
                )],
            ));
        }
        Ok(body)
    }

    /// Where to send the browser: the IdP's authorization endpoint with code flow, PKCE (S256),
    /// state and nonce.
    pub fn authorization_url(
        &self,
        provider: &Provider,
        client: &ClientRegistration<'_>,
        secrets: &LoginSecrets,
    ) -> Result<String, SsoError> {
        let oidc_client = self.client(provider, client)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            secrets.pkce_verifier.clone(),
        ));
        let state = secrets.state.clone();
        let nonce = secrets.nonce.clone();
        let mut request = oidc_client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in ["email", "profile"] {
            let offered = provider
                .metadata
                .scopes_supported()
                .is_none_or(|s| s.iter().any(|x| x.as_str() == scope));
            if offered {
                request = request.add_scope(Scope::new(scope.to_owned()));
            }
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    fn client(
        &self,
        provider: &Provider,
        client: &ClientRegistration<'_>,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoError,
    > {
        let redirect = RedirectUrl::new(client.redirect_uri.to_owned()).map_err(|e| {
            SsoError::Config(format!(
                "redirect URI `{}` is not a URL: {e}",
                client.redirect_uri
            ))
        })?;
        let methods = provider.metadata.token_endpoint_auth_methods_supported();
        let basic = methods.is_none_or(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic));
        let post = methods.is_some_and(|m| m.contains(&CoreClientAuthMethod::ClientSecretPost));
        let auth = if !basic && post {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        };
        Ok(CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            openidconnect::ClientId::new(client.client_id.to_owned()),
            Some(ClientSecret::new(client.client_secret.to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth))
    }

    /// Exchanges the authorization code and validates the ID token it brings.
    pub async fn exchange_and_verify(
        &self,
        issuer: &Issuer,
        client: &ClientRegistration<'_>,
        code: &str,
        secrets: &LoginSecrets,
    ) -> Result<VerifiedIdentity, SsoError> {
        let provider = self.discover(issuer).await?;
        let oidc_client = self.client(&provider, client)?;
        let request = oidc_client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| {
                upstream(
                    "idp_discovery_failed",
                    "the identity provider's discovery document has no token endpoint".into(),
                    Actor::IdpAdmin,
                    "The identity provider must publish a token_endpoint for the authorization-code flow.",
                    vec![Detail::new("token_endpoint", "a URL", "absent")],
                )
            })?;
        let response: CoreTokenResponse = request
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_error(e, client, provider.token_endpoint().as_deref()))?;
        let id_token = response.id_token().ok_or_else(|| {
            upstream(
                "id_token_invalid",
                "the identity provider's token response has no ID token".into(),
                Actor::IdpAdmin,
                "The application at the identity provider must be an OpenID Connect application that returns \
                 an ID token for the `openid` scope.",
                vec![Detail::new("id_token", "present", "absent")],
            )
        })?;
        let nonce = Nonce::new(secrets.nonce.clone());
        let mut provider = provider;
        let mut refetched = false;
        loop {
            let verifier = self.verifier(&provider, client.client_id)?;
            match id_token.claims(&verifier, &nonce) {
                Ok(claims) => {
                    let name = claims
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned())
                        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
                    return Ok(VerifiedIdentity {
                        issuer: provider.issuer.clone(),
                        subject: claims.subject().as_str().to_owned(),
                        email: claims.email().map(|e| e.as_str().to_owned()),
                        name,
                    });
                }
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refetched => {
                    refetched = true;
                    match self.refetch_jwks(issuer, &provider).await? {
                        Some(fresh) => provider = fresh,
                        None => {
                            return Err(id_token_error(
                                "no key of the identity provider's JWKS matches the ID token's key id, and the JWKS \
                                 was refetched less than a minute ago"
                                    .into(),
                                &provider,
                            ));
                        }
                    }
                }
                Err(e) => return Err(id_token_error(describe_claims_error(&e), &provider)),
            }
        }
    }

    fn verifier(
        &self,
        provider: &Provider,
        client_id: &str,
    ) -> Result<CoreIdTokenVerifier<'static>, SsoError> {
        let now = self.clock.now();
        let reference = SystemTime::from(expiry_reference(now));
        let issuer = IssuerUrl::new(provider.issuer.clone())
            .map_err(|e| SsoError::Corrupt(format!("issuer `{}` is not a URL: {e}", provider.issuer)))?;
        Ok(CoreIdTokenVerifier::new_public_client(
            openidconnect::ClientId::new(client_id.to_owned()),
            issuer,
            provider.metadata.jwks().clone(),
        )
        .set_allowed_algs(provider.algorithms.clone())
        .set_time_fn(move || reference.into())
        .set_issue_time_verifier_fn(move |iat| check_issued_at(iat.timestamp(), now)))
    }

    /// Refetches the issuer's JWKS unless that happened within [`JWKS_REFETCH_INTERVAL`].
    async fn refetch_jwks(
        &self,
        issuer: &Issuer,
        provider: &Provider,
    ) -> Result<Option<Arc<Provider>>, SsoError> {
        let now = self.clock.now();
        {
            let Ok(mut cache) = self.cache.lock() else {
                return Ok(None);
            };
            if let Some(last) = cache.last_jwks_refetch.get(issuer.as_str())
                && now - *last < JWKS_REFETCH_INTERVAL
            {
                tracing::warn!(issuer = %issuer, "unknown key id, JWKS refetch rate-limited");
                return Ok(None);
            }
            cache.last_jwks_refetch.insert(issuer.as_str().to_owned(), now);
        }
        tracing::info!(issuer = %issuer, "unknown key id in ID token: refetching the JWKS once");
        let jwks = self.fetch_jwks(&provider.metadata, issuer).await?;
        let fresh = Arc::new(Provider {
            metadata: provider.metadata.clone().set_jwks(jwks),
            ..provider.clone()
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.providers.insert(issuer.as_str().to_owned(), fresh.clone());
        }
        Ok(Some(fresh))
    }

    /// Forgets a cached provider (after a tenant's issuer changes).
    pub fn forget(&self, issuer: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.providers.remove(issuer);
        }
    }
}

fn describe_claims_error(e: &ClaimsVerificationError) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

fn id_token_error(reason: String, provider: &Provider) -> SsoError {
    upstream(
        "id_token_invalid",
        format!("the ID token from the identity provider was refused: {reason}"),
        Actor::IdpAdmin,
        &format!(
            "The ID token must be signed with a key published in the identity provider's JWKS using one of {} \
             and carry this client as audience, the issuer `{}`, the nonce we sent and times within {} seconds of \
             ours. If the identity provider's clock is wrong, its administrator must fix it; if this keeps \
             happening with a correct clock, tell the operator of this service.",
            provider.algorithm_names().join(", "),
            provider.issuer,
            TOKEN_LEEWAY.as_secs()
        ),
        vec![Detail::new("ID token", "valid signature and claims", reason)],
    )
}

fn token_error<E: std::error::Error + 'static>(
    e: RequestTokenError<E, openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
    client: &ClientRegistration<'_>,
    endpoint: Option<&str>,
) -> SsoError {
    let endpoint = endpoint.unwrap_or("(none)");
    match e {
        RequestTokenError::ServerResponse(resp) => {
            let code = resp.error().as_ref().to_owned();
            let description = resp.error_description().cloned().unwrap_or_default();
            let received = if description.is_empty() {
                format!("error={code}")
            } else {
                format!("error={code}: {description}")
            };
            let (actor, advice) = match code.as_str() {
                "invalid_client" | "unauthorized_client" => (
                    Actor::Operator,
                    format!(
                        "The identity provider refused this service's client credentials for client `{}`. The \
                         operator must store the client secret the identity provider currently shows \
                         (POST /admin/tenants/{{slug}}/rotate-secret).",
                        client.client_id
                    ),
                ),
                _ if description.to_ascii_lowercase().contains("redirect") => (
                    Actor::IdpAdmin,
                    format!(
                        "The identity provider must have this exact redirect URI registered: {}",
                        client.redirect_uri
                    ),
                ),
                _ => (
                    Actor::User,
                    "The identity provider refused the authorization code (it may have expired or been used). \
                     Start the sign-in again."
                        .into(),
                ),
            };
            upstream(
                "code_exchange_failed",
                format!("the identity provider's token endpoint refused the code: {received}"),
                actor,
                &advice,
                vec![Detail::new("token response", "tokens", received)],
            )
        }
        other => {
            use std::error::Error as _;
            let mut text = other.to_string();
            let mut source = other.source();
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            upstream(
                "code_exchange_failed",
                format!("the identity provider's token endpoint `{endpoint}` failed: {text}"),
                Actor::IdpAdmin,
                "The identity provider's token endpoint did not answer properly. Try again; if it persists, its \
                 administrator must look at its logs.",
                vec![Detail::new(
                    "token endpoint",
                    format!("a token response from {endpoint}"),
                    text,
                )],
            )
        }
    }
}

fn upstream(
    code: &'static str,
    message: String,
    actor: Actor,
    advice: &str,
    details: Vec<Detail>,
) -> SsoError {
    SsoError::Upstream {
        code,
        message,
        advice: Advice {
            actor,
            text: advice.to_owned(),
            details,
        },
    }
}
