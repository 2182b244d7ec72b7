//! The token endpoint (`/oauth2/token`): authorization code (+ PKCE), refresh token (rotation,
//! reuse detection, session and policy re-check) and client credentials. Client secrets are
//! SHA-256 digests compared in constant time (no argon2 here); ID tokens are ES256 JWTs signed with
//! the keys held in memory, access tokens too unless the access rule asks for opaque ones (sealed
//! with a key derived from the same keys, `gatehouse_crypto::opaque`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::model::{Actor, EndReason, Outcome, SessionId, User, UserId, event_types};
use gatehouse_crypto::{KeySet, SigningAlgorithm, digest, random};
use gatehouse_oidc::claims::{AccessTokenInput, AccessTokenUser, IdTokenInput, UserProfile};
use gatehouse_oidc::code::{CodeDecision, CodeRecord, redeem_code};
use gatehouse_oidc::refresh::{RefreshDecision, RefreshRecord, RefreshStatus, redeem_refresh};
use gatehouse_oidc::{
    AccessDecision, AccessGrant, AccessRequest, AccessTokenFormat, AccessUser, ErrorCode, Grant, GrantType,
    Params, ProtocolError, ScopeSet, TokenError, TokenResponse, parse_token_request, scope,
};
use gatehouse_store::{Read, RefreshRow};
use jiff::Timestamp;
use serde_json::Value;

use super::{Client, Clients, GrantData};
use crate::audit::Event;
use crate::{ApiError, AppState, ServerError};

/// A JSON answer that is never cached.
pub(crate) fn no_store(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A token-endpoint error: its status, JSON body and `WWW-Authenticate` challenge.
pub(crate) fn token_error(error: &TokenError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store(status, &error.to_json());
    if let Some(challenge) = error.www_authenticate()
        && let Ok(value) = HeaderValue::from_str(&challenge)
    {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

pub(crate) fn form(body: &Bytes) -> Result<Params, TokenError> {
    std::str::from_utf8(body)
        .map(Params::parse)
        .map_err(|_| TokenError::new(ErrorCode::InvalidRequest, "the form is not UTF-8"))
}

pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// Why a request failed, for the answer and the log.
enum Failure {
    Token(TokenError),
    Server(ServerError),
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        Self::Token(e)
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Self {
        Self::Server(e)
    }
}

impl From<gatehouse_store::StoreError> for Failure {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Server(e.into())
    }
}

fn invalid_grant(why: &str) -> Failure {
    Failure::Token(TokenError::new(ErrorCode::InvalidGrant, why))
}

fn policy_failed() -> Failure {
    Failure::Token(ProtocolError::policy_failed().into())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ServerError {
    ServerError::Corrupt {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client_ip = crate::risk::client_ip(&state, peer.ip(), &headers);
    let request = match form(&body).and_then(|p| parse_token_request(&p, authorization(&headers))) {
        Ok(r) => r,
        Err(e) => {
            log(&state, None, None, Outcome::Failure, "unknown", Some(&e)).await?;
            return Ok(token_error(&e));
        }
    };
    let clients = state.oidc().clients(&state).await?;
    let client = clients.by_id.get(request.client.client_id());
    let grant_type = request.grant.grant_type();
    let authenticated = request.authenticate(client.map(|c| &c.registration));
    let client = match (authenticated, client) {
        (Ok(_), Some(client)) => client,
        (Err(e), client) => {
            log(
                &state,
                client,
                None,
                Outcome::Failure,
                grant_type.as_str(),
                Some(&e),
            )
            .await?;
            return Ok(token_error(&e));
        }
        (Ok(_), None) => return Err(ApiError::internal(&"authenticated an unknown client")),
    };
    let result = match &request.grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            // The two user grants are boxed: their futures are large, and inline they would make
            // every token request's future (moved into its task at each layer) as large.
            Box::pin(authorization_code(
                &state,
                &clients,
                client,
                code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            ))
            .await
        }
        Grant::RefreshToken { refresh_token, scope } => {
            Box::pin(refresh(
                &state,
                &clients,
                client,
                refresh_token,
                scope.as_ref(),
                client_ip,
            ))
            .await
        }
        Grant::ClientCredentials { scope } => client_credentials(&state, &clients, client, scope).await,
    };
    match result {
        // Each grant logged its success: the user grants in the transaction of the code or
        // token they spent, client credentials through the group commit.
        Ok(response) => Ok(no_store(StatusCode::OK, &response)),
        Err(Failure::Token(e)) => {
            log(
                &state,
                Some(client),
                None,
                Outcome::Failure,
                grant_type.as_str(),
                Some(&e),
            )
            .await?;
            Ok(token_error(&e))
        }
        Err(Failure::Server(e)) => Err(e.into()),
    }
}

async fn log(
    state: &AppState,
    client: Option<&Client>,
    user: Option<UserId>,
    outcome: Outcome,
    grant_type: &str,
    error: Option<&TokenError>,
) -> Result<(), ServerError> {
    grant_event(client, user, outcome, grant_type, error)
        .commit_alone(state, state.now())
        .await
}

/// The system-log event of a token request: granted, or refused with the error it was answered.
fn grant_event(
    client: Option<&Client>,
    user: Option<UserId>,
    outcome: Outcome,
    grant_type: &str,
    error: Option<&TokenError>,
) -> Event {
    let kind = if error.is_some() {
        event_types::APP_OAUTH2_TOKEN_DENY
    } else {
        event_types::APP_OAUTH2_TOKEN_GRANT
    };
    let actor = match (user, client) {
        (Some(user), _) => Actor::User(user),
        (None, Some(c)) => Actor::Client(c.registration.client_id.clone()),
        (None, None) => Actor::Anonymous,
    };
    let mut event = Event::new(kind, actor, outcome).detail("grant_type", grant_type);
    if let Some(c) = client {
        event = event
            .app(c.app.id)
            .detail("client_id", c.registration.client_id.as_str());
    }
    if let Some(user) = user {
        event = event.user(user);
    }
    if let Some(e) = error {
        event = event
            .detail("error", e.code().as_str())
            .detail("error_description", e.error.description.as_str());
    }
    event
}

/// Records a user grant in the transaction that spends its code or refresh token.
async fn granted(
    tx: &mut gatehouse_store::Tx,
    client: &Client,
    user: &User,
    grant: GrantType,
    now: Timestamp,
) -> Result<(), ServerError> {
    grant_event(
        Some(client),
        Some(user.id),
        Outcome::Success,
        grant.as_str(),
        None,
    )
    .append(tx, now)
    .await?;
    Ok(())
}

fn evaluate(
    clients: &Clients,
    client: &Client,
    grant: GrantType,
    scopes: &ScopeSet,
    user: Option<(&User, &[String])>,
) -> Result<AccessGrant, Failure> {
    let id = user.map(|(u, _)| u.id.to_string());
    let decision = clients.policies.evaluate(&AccessRequest {
        client_id: &client.registration.client_id,
        grant_type: grant,
        scopes,
        user: user.map(|(u, groups)| AccessUser {
            id: id.as_deref().unwrap_or_default(),
            login: u.login.as_str(),
            groups,
        }),
    });
    match decision {
        AccessDecision::Allow { grant, .. } => Ok(grant),
        AccessDecision::Deny { .. } => Err(policy_failed()),
    }
}

fn at(now: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_second(
        now.as_second()
            .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    )
    .unwrap_or(now)
}

/// The user a code or refresh token acts for, still active, and their groups.
async fn active_user(store: &mut Read, id: UserId) -> Result<(User, Vec<String>), Failure> {
    let user = store
        .users()
        .get(id)
        .await?
        .filter(|u| u.status.can_sign_in())
        .ok_or_else(|| invalid_grant("the user may no longer sign in"))?;
    let groups = store.groups().names_of_user(user.id).await?;
    Ok((user, groups))
}

pub(crate) fn profile(user: &User, groups: &[String]) -> UserProfile {
    let attr = |name: &str| {
        user.profile
            .as_map()
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    UserProfile {
        subject: user.id.to_string(),
        login: user.login.as_str().to_owned(),
        name: Some(user.display_name.as_str().to_owned()),
        given_name: attr("given_name"),
        family_name: attr("family_name"),
        email: Some(user.email.as_str().to_owned()),
        email_verified: true,
        locale: attr("locale"),
        zoneinfo: attr("zoneinfo"),
        groups: groups.to_vec(),
        updated_at: Some(user.updated_at),
    }
}

struct Issue<'a> {
    client: &'a Client,
    user: &'a User,
    groups: &'a [String],
    session_id: Option<SessionId>,
    grant: &'a GrantData,
    scope: &'a ScopeSet,
    access: &'a AccessGrant,
}

/// The access token of `claims` in the form the access rule asks for: an RFC 9068 JWT signed
/// ES256, or the claims sealed into an opaque token only Gatehouse opens.
fn access_token(
    keys: &KeySet,
    access: &AccessGrant,
    claims: &impl serde::Serialize,
) -> Result<String, Failure> {
    let typ = gatehouse_oidc::claims::ACCESS_TOKEN_TYPE;
    let token = match access.access_token_format {
        AccessTokenFormat::Jwt => keys.sign_typed(SigningAlgorithm::Es256, typ, claims),
        AccessTokenFormat::Opaque => keys.seal_opaque(typ, claims),
    };
    Ok(token.map_err(ServerError::Crypto)?)
}

/// Signs the access token and, for `openid`, the ID token.
fn sign_user_tokens(
    state: &AppState,
    keys: &KeySet,
    issue: &Issue<'_>,
) -> Result<(String, Option<String>, u64), Failure> {
    let now = state.now();
    let issuer = state.issuer();
    let sid = issue.session_id.map(|s| s.to_string());
    let requested_acr = issue
        .grant
        .acr_values
        .as_deref()
        .and_then(gatehouse_oidc::assurance::choose_acr);
    let auth_time = Timestamp::from_second(issue.grant.auth_time).unwrap_or(now);
    let lifetime = issue.access.access_token_lifetime.duration();
    let subject = issue.user.id.to_string();
    let jti = random::token::<16>();
    let claims = gatehouse_oidc::claims::access_token_claims(&AccessTokenInput {
        issuer,
        audience: issuer.as_str(),
        client_id: &issue.client.registration.client_id,
        scope: issue.scope,
        now,
        lifetime,
        jti: &jti,
        user: Some(AccessTokenUser {
            subject: &subject,
            auth_time,
            records: &issue.grant.records,
            requested_acr,
            session_id: sid.as_deref(),
        }),
    });
    let access = access_token(keys, issue.access, &claims)?;
    let id_token = if issue.scope.contains(scope::OPENID) {
        let profile = profile(issue.user, issue.groups);
        let claims = gatehouse_oidc::claims::id_token_claims(&IdTokenInput {
            issuer,
            client_id: &issue.client.registration.client_id,
            profile: &profile,
            scope: issue.scope,
            now,
            lifetime: gatehouse_oidc::claims::ID_TOKEN_LIFETIME,
            auth_time,
            nonce: issue.grant.nonce.as_deref(),
            records: &issue.grant.records,
            requested_acr,
            session_id: sid.as_deref(),
        });
        Some(
            keys.sign(SigningAlgorithm::Es256, &claims)
                .map_err(ServerError::Crypto)?,
        )
    } else {
        None
    };
    Ok((access, id_token, lifetime.as_secs()))
}

/// The length of a refresh-token family's id, the first characters of each of its tokens.
const FAMILY_ID_LEN: usize = 32;

/// A new refresh-token family id: 32 lower-case hex characters, time-ordered (UUIDv7), so that
/// a new family's row goes next to the last one's, not on a random page (it is no secret: it
/// is only the half of a token that finds its row).
fn new_family_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A new token of `family_id` (the family's id, then 256 random bits) and its digest.
fn new_refresh_token(family_id: &str) -> (String, String) {
    let token = format!("{family_id}{}", random::token::<32>());
    let digest = digest::sha256_hex(token.as_bytes());
    (token, digest)
}

/// The family a presented refresh token names, if it has the shape of one of ours.
pub(crate) fn refresh_family_of(token: &str) -> Option<&str> {
    let family = token.get(..FAMILY_ID_LEN)?;
    (token.len() > FAMILY_ID_LEN && family.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(family)
}

/// Whether `token` is the current token of `family` (its digest compared in constant time).
pub(crate) fn is_current_refresh_token(family: &RefreshRow, token: &str) -> bool {
    digest::verify_sha256_hex(token.as_bytes(), &family.digest)
}

/// A new family's row and its first token.
fn refresh_family(issue: &Issue<'_>, now: Timestamp) -> Result<(String, RefreshRow), Failure> {
    let family_id = new_family_id();
    let (token, digest) = new_refresh_token(&family_id);
    let row = RefreshRow {
        family_id,
        digest,
        client_id: issue.client.registration.client_id.clone(),
        user_id: issue.user.id,
        session_id: issue.session_id,
        scope: issue.scope.to_string(),
        status: "active".to_owned(),
        grant: serde_json::to_string(issue.grant).map_err(|e| corrupt("grant", e))?,
        created_at: now,
        issued_at: now,
        expires_at: at(now, issue.access.refresh_token_lifetime.duration()),
    };
    Ok((token, row))
}

fn wants_refresh(issue: &Issue<'_>) -> bool {
    issue.access.refresh_allowed && issue.client.registration.allows(GrantType::RefreshToken)
}

async fn authorization_code(
    state: &AppState,
    clients: &Clients,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, Failure> {
    let now = state.now();
    let code_key = crate::handle::key(code);
    // Before the transaction: reloading the keys may write (their rotation, housekeeping).
    let keys = state.oidc().keys(state).await?;
    // The code is read in the transaction that spends it (on SQLite no other redemption can
    // come between; on PostgreSQL the conditional redemption below settles a race).
    let mut read = state.store().read_then_write().await?;
    let row = read.oauth().code(&code_key).await?;
    let grant: Option<GrantData> = row
        .as_ref()
        .map(|r| serde_json::from_str::<GrantData>(&r.grant))
        .transpose()
        .map_err(|e| corrupt("authorization code", e))?;
    let record = row.as_ref().zip(grant.as_ref()).map(|(r, g)| CodeRecord {
        client_id: r.client_id.clone(),
        redirect_uri: g.redirect_uri.clone(),
        code_challenge: g.code_challenge.clone(),
        issued_at: r.created_at,
        redeemed: r.redeemed_at.is_some(),
    });
    match redeem_code(
        record.as_ref(),
        &client.registration.client_id,
        redirect_uri,
        code_verifier,
        now,
    ) {
        CodeDecision::Issue => {}
        CodeDecision::Reject(e) => return Err(e.into()),
        CodeDecision::Replayed(e) => {
            // A replayed code: the tokens it earned are revoked too (RFC 6749 section 4.1.2).
            if let Some(family) = row.as_ref().and_then(|r| r.family_id.as_deref()) {
                let mut tx = read.into_tx()?;
                tx.oauth().revoke_family(family).await?;
                tx.commit().await?;
            }
            return Err(e.into());
        }
    }
    let (Some(row), Some(grant)) = (row, grant) else {
        return Err(invalid_grant("the authorization code is invalid or expired"));
    };
    let (user, groups) = active_user(&mut read, row.user_id).await?;
    let access = evaluate(
        clients,
        client,
        GrantType::AuthorizationCode,
        &grant.scope,
        Some((&user, &groups)),
    )?;
    let issue = Issue {
        client,
        user: &user,
        groups: &groups,
        session_id: row.session_id,
        grant: &grant,
        scope: &grant.scope,
        access: &access,
    };
    let refresh = if wants_refresh(&issue) {
        Some(refresh_family(&issue, now)?)
    } else {
        None
    };
    // Signed before the code is spent, so that the grant's event commits with the code's
    // redemption.
    let (access_token, id_token, expires_in) = sign_user_tokens(state, &keys, &issue)?;
    let mut tx = read.into_tx()?;
    let family = refresh.as_ref().map(|(_, row)| row.family_id.as_str());
    if !tx.oauth().redeem_code(&code_key, now, family).await? {
        return Err(invalid_grant("the authorization code was already used"));
    }
    if let Some((_, row)) = &refresh {
        tx.oauth().insert_refresh_family(row).await?;
    }
    granted(&mut tx, client, &user, GrantType::AuthorizationCode, now).await?;
    tx.commit().await?;
    Ok(TokenResponse {
        access_token,
        expires_in,
        scope: grant.scope.clone(),
        refresh_token: refresh.map(|(t, _)| t),
        id_token,
    })
}

async fn refresh(
    state: &AppState,
    clients: &Clients,
    client: &Client,
    token: &str,
    requested: Option<&ScopeSet>,
    client_ip: IpAddr,
) -> Result<TokenResponse, Failure> {
    let now = state.now();
    // Before the transaction: reloading the keys may write (their rotation, housekeeping).
    let keys = state.oidc().keys(state).await?;
    // The family is read in the transaction that rotates it (on SQLite no other refresh can
    // come between; on PostgreSQL the conditional rotation below settles a race).
    let mut read = state.store().read_then_write().await?;
    let row = match refresh_family_of(token) {
        Some(family) => read.oauth().refresh_family(family).await?,
        None => None,
    };
    let record = row
        .as_ref()
        .map(|r| -> Result<RefreshRecord, ServerError> {
            Ok(RefreshRecord {
                family_id: r.family_id.clone(),
                client_id: r.client_id.clone(),
                scope: ScopeSet::parse(&r.scope).map_err(|e| corrupt("refresh token", e))?,
                // A token of the family that is not its current one was rotated away: a reuse.
                status: match (r.status.as_str(), is_current_refresh_token(r, token)) {
                    ("active", true) => RefreshStatus::Active,
                    ("active", false) => RefreshStatus::Rotated,
                    _ => RefreshStatus::Revoked,
                },
                expires_at: r.expires_at,
            })
        })
        .transpose()?;
    let scope = match redeem_refresh(record.as_ref(), &client.registration.client_id, requested, now) {
        RefreshDecision::Rotate { scope } => scope,
        RefreshDecision::Reject(e) => return Err(e.into()),
        RefreshDecision::RevokeFamily { family_id, error } => {
            let mut tx = read.into_tx()?;
            tx.oauth().revoke_family(&family_id).await?;
            tx.commit().await?;
            return Err(error.into());
        }
    };
    let Some(row) = row else {
        return Err(invalid_grant("the refresh token is invalid, expired or revoked"));
    };
    // The sign-in the token rests on must still hold: an active user, a live session, and the
    // app's policy against the context of this request (continuous evaluation, docs/risk.md).
    let (user, groups) = active_user(&mut read, row.user_id).await?;
    let mut tx = if let Some(session_id) = row.session_id {
        let Some(session) = read.sessions().get(session_id).await?.filter(|s| s.is_live(now)) else {
            return Err(invalid_grant(
                "the session this refresh token belongs to has ended",
            ));
        };
        let records = read.sessions().records(session_id).await?;
        let client_id = client.registration.client_id.as_str();
        let live = crate::flow::SessionNow {
            session: &session,
            records: &records,
            user: &user,
            groups: &groups,
        };
        let (verdict, risk) = crate::flow::reevaluate(&mut read, state, &live, client_id, client_ip).await?;
        let tx = read.into_tx()?;
        continuous(state, tx, client, &session, verdict, risk, &user, client_ip).await?
    } else {
        read.into_tx()?
    };
    let access = evaluate(
        clients,
        client,
        GrantType::RefreshToken,
        &scope,
        Some((&user, &groups)),
    )?;
    let grant: GrantData = serde_json::from_str(&row.grant).map_err(|e| corrupt("refresh token", e))?;
    let issue = Issue {
        client,
        user: &user,
        groups: &groups,
        session_id: row.session_id,
        grant: &grant,
        scope: &scope,
        access: &access,
    };
    let (next, next_digest) = new_refresh_token(&row.family_id);
    let expires_at = at(now, access.refresh_token_lifetime.duration());
    // Signed before the rotation, so that the grant's event commits with it.
    let (access_token, id_token, expires_in) = sign_user_tokens(state, &keys, &issue)?;
    let rotated = tx
        .oauth()
        .rotate_refresh_token(&row.family_id, &row.digest, &next_digest, now, expires_at)
        .await?;
    if !rotated {
        tx.oauth().revoke_family(&row.family_id).await?;
        tx.commit().await?;
        return Err(invalid_grant(
            "the refresh token was already used; every token of its family is now revoked",
        ));
    }
    granted(&mut tx, client, &user, GrantType::RefreshToken, now).await?;
    tx.commit().await?;
    Ok(TokenResponse {
        access_token,
        expires_in,
        scope,
        refresh_token: Some(next),
        id_token,
    })
}

/// Continuous evaluation at a refresh: acts on the verdict of the session's app policy,
/// evaluated now, in the refresh's transaction, which it hands back when the verdict holds. A
/// rule that denies ends the session (its refresh tokens with it); one that asks for more
/// refuses the refresh so the app sends the user to sign in again. Both are in the system log.
#[allow(clippy::too_many_arguments)]
async fn continuous(
    state: &AppState,
    mut tx: gatehouse_store::Tx,
    client: &Client,
    session: &gatehouse_core::model::Session,
    verdict: crate::flow::Continuous,
    risk: Option<crate::flow::data::FlowRisk>,
    user: &User,
    client_ip: IpAddr,
) -> Result<gatehouse_store::Tx, Failure> {
    let (outcome, rule) = match &verdict {
        crate::flow::Continuous::Holds => return Ok(tx),
        crate::flow::Continuous::StepUp { rule } => (Outcome::Challenge, rule.clone()),
        crate::flow::Continuous::Ends { rule, .. } => (Outcome::Deny, rule.clone()),
    };
    let now = state.now();
    let mut event = Event::new(event_types::POLICY_EVALUATE, Actor::User(user.id), outcome)
        .user(user.id)
        .app(client.app.id)
        .detail("trigger", "refresh")
        .detail("session_id", session.id.to_string())
        .detail("rule", rule)
        .client_ip(client_ip.to_string());
    if let Some(risk) = &risk {
        event = event
            .detail("risk", risk.level.as_str())
            .detail("risk_signals", risk.signals.join(","));
    }
    event.append(&mut tx, now).await?;
    let refusal = match verdict {
        crate::flow::Continuous::Ends { message, .. } => {
            crate::session::end_in(
                &mut tx,
                session.id,
                EndReason::PolicyViolation,
                Actor::System,
                now,
            )
            .await?;
            invalid_grant(&format!("{message}; the session has ended"))
        }
        _ => invalid_grant("the sign-in policy now asks for more than this session proved: sign in again"),
    };
    tx.commit().await?;
    Err(refusal)
}

async fn client_credentials(
    state: &AppState,
    clients: &Clients,
    client: &Client,
    scope: &ScopeSet,
) -> Result<TokenResponse, Failure> {
    let now = state.now();
    let access = evaluate(clients, client, GrantType::ClientCredentials, scope, None)?;
    let keys = state.oidc().keys(state).await?;
    let issuer = state.issuer();
    let jti = random::token::<16>();
    let lifetime = access.access_token_lifetime.duration();
    let claims = gatehouse_oidc::claims::access_token_claims(&AccessTokenInput {
        issuer,
        audience: issuer.as_str(),
        client_id: &client.registration.client_id,
        scope,
        now,
        lifetime,
        jti: &jti,
        user: None,
    });
    let access_token = access_token(&keys, &access, &claims)?;
    log(
        state,
        Some(client),
        None,
        Outcome::Success,
        GrantType::ClientCredentials.as_str(),
        None,
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        expires_in: lifetime.as_secs(),
        scope: scope.clone(),
        refresh_token: None,
        id_token: None,
    })
}
