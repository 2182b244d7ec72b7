//! Whole exchanges: what the endpoints will do, step by step, with nothing but this crate's
//! decisions and `gatehouse-crypto`'s keys in between.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_crypto::{Audience, JwtExpectations, KeySet, KeyStatus, SigningAlgorithm, SigningKey, pkce};
use gatehouse_oidc::access_policy::{AccessGrant, AccessUser};
use gatehouse_oidc::claims::{
    ACCESS_TOKEN_TYPE, AccessTokenInput, AccessTokenUser, ID_TOKEN_LIFETIME, IdTokenInput, UserProfile,
    access_token_claims, id_token_claims, userinfo_claims, userinfo_grant,
};
use gatehouse_oidc::code::{CodeDecision, CodeRecord, redeem_code};
use gatehouse_oidc::logout::{IdTokenHint, LogoutDecision, LogoutRequest, decide_logout};
use gatehouse_oidc::refresh::{RefreshDecision, RefreshRecord, RefreshStatus, redeem_refresh};
use gatehouse_oidc::{
    AccessRequest, Authenticator, AuthorizeOutcome, ErrorCode, Grant, GrantType, Method, Params, ScopeSet,
    SessionDecision, VerificationFacts, parse_token_request, validate_authorize,
};
use jiff::Timestamp;
use serde_json::json;

use crate::fixtures::{ISSUER, blocked, cli, dashboard, issuer, policies, reports};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn keys() -> KeySet {
    KeySet::new(vec![(
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        KeyStatus::Active,
    )])
    .unwrap()
}

fn alice() -> UserProfile {
    UserProfile {
        subject: "00u-alice".into(),
        login: "alice".into(),
        name: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        email_verified: true,
        groups: vec!["employees".into()],
        ..UserProfile::default()
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[test]
fn public_client_code_flow_with_pkce_then_refresh_and_logout() {
    let issuer = issuer();
    let keys = keys();
    let policies = policies();
    let client = cli();
    let verifier = "the-cli-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = pkce::s256_challenge(verifier);

    // 1. Authorize.
    let query = format!(
        "response_type=code&client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A9002%2Fcallback&scope=openid%20profile%20email\
         &state=st-1&nonce=no-1&code_challenge={challenge}&code_challenge_method=S256"
    );
    let params = Params::parse(&query);
    assert_eq!(gatehouse_oidc::authorize::client_id(&params), Some("cli"));
    let AuthorizeOutcome::Valid(request) = validate_authorize(&params, Some(&client), &issuer) else {
        panic!("valid request")
    };
    assert_eq!(request.session_decision(None, t(1000)), SessionDecision::SignIn);

    // 2. The flow signs alice in (password, then TOTP) and the access policy allows the client.
    let records = [
        VerificationFacts::new(Authenticator::Password, Method::Password),
        VerificationFacts::new(Authenticator::Totp, Method::Otp),
    ];
    let groups = alice().groups;
    let user = AccessUser {
        id: "00u-alice",
        login: "alice",
        groups: &groups,
    };
    let grant = policies
        .evaluate(&AccessRequest {
            client_id: "cli",
            grant_type: GrantType::AuthorizationCode,
            scopes: &request.scope,
            user: Some(user),
        })
        .into_result()
        .unwrap();
    let code_record = CodeRecord::issue(&request, t(1010));
    let location = request.success_redirect("code-1", &issuer);
    assert_eq!(
        location,
        "http://127.0.0.1:9002/callback?code=code-1&state=st-1&iss=http%3A%2F%2Flocalhost%3A8080"
    );

    // 3. Token request: public client, `none`, PKCE verifier.
    let form = Params::parse(&format!(
        "grant_type=authorization_code&code=code-1&redirect_uri=http%3A%2F%2F127.0.0.1%3A9002%2Fcallback\
         &client_id=cli&code_verifier={verifier}"
    ));
    let token_request = parse_token_request(&form, None).unwrap();
    let authenticated = token_request.authenticate(Some(&client)).unwrap();
    let Grant::AuthorizationCode {
        redirect_uri,
        code_verifier,
        ..
    } = &token_request.grant
    else {
        panic!("code grant")
    };
    assert_eq!(
        redeem_code(
            Some(&code_record),
            authenticated.client_id(),
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
            t(1015)
        ),
        CodeDecision::Issue
    );
    let profile = alice();
    let id_token = keys
        .sign(
            SigningAlgorithm::Es256,
            &id_token_claims(&IdTokenInput {
                issuer: &issuer,
                client_id: "cli",
                profile: &profile,
                scope: &request.scope,
                now: t(1015),
                lifetime: ID_TOKEN_LIFETIME,
                auth_time: t(1009),
                nonce: request.nonce.as_deref(),
                records: &records,
                requested_acr: request.step_up().acr,
                session_id: Some("sid-1"),
            }),
        )
        .unwrap();
    let access_token = keys
        .sign_typed(
            SigningAlgorithm::Es256,
            ACCESS_TOKEN_TYPE,
            &access_token_claims(&AccessTokenInput {
                issuer: &issuer,
                audience: ISSUER,
                client_id: "cli",
                scope: &request.scope,
                now: t(1015),
                lifetime: grant.access_token_lifetime.duration(),
                jti: "at-1",
                user: Some(AccessTokenUser {
                    subject: "00u-alice",
                    auth_time: t(1009),
                    records: &records,
                    requested_acr: None,
                    session_id: Some("sid-1"),
                }),
            }),
        )
        .unwrap();

    // 4. The relying party checks the ID token.
    let aud = ["cli"];
    let id = keys
        .jwks()
        .verify(
            &id_token,
            &JwtExpectations::new(ISSUER, Audience::OneOf(&aud), 1020),
        )
        .unwrap();
    assert_eq!(id.str_claim("nonce"), Some("no-1"));
    assert_eq!(id.claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id.claims["acr"], "urn:gatehouse:loa:2fa:any");
    assert_eq!(id.claims["auth_time"], 1009);

    // 5. Userinfo with the access token (typed at+jwt; an ID token is refused there).
    let at_aud = [ISSUER];
    let at_expect = JwtExpectations::new(ISSUER, Audience::OneOf(&at_aud), 1020).with_type(ACCESS_TOKEN_TYPE);
    let at = keys.verify(&access_token, &at_expect).unwrap();
    let info = userinfo_grant(&at.claims).unwrap();
    assert_eq!(
        serde_json::to_value(userinfo_claims(&profile, &info.scope)).unwrap(),
        json!({"sub": "00u-alice", "name": "Alice", "preferred_username": "alice", "email": "alice@example.com", "email_verified": true})
    );
    assert!(keys.verify(&id_token, &at_expect).is_err());

    // 6. The code cannot be used twice.
    let mut redeemed = code_record.clone();
    redeemed.redeemed = true;
    assert!(matches!(
        redeem_code(
            Some(&redeemed),
            "cli",
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
            t(1016)
        ),
        CodeDecision::Replayed(_)
    ));

    // 7. Refresh rotation, then reuse of the first token revokes the family.
    let mut first = RefreshRecord {
        family_id: "fam-1".into(),
        client_id: "cli".into(),
        scope: request.scope.clone(),
        status: RefreshStatus::Active,
        expires_at: t(1015 + grant.refresh_token_lifetime.duration().as_secs() as i64),
    };
    let refresh_form =
        Params::parse("grant_type=refresh_token&refresh_token=rt-1&client_id=cli&scope=openid");
    let refresh_request = parse_token_request(&refresh_form, None).unwrap();
    refresh_request.authenticate(Some(&client)).unwrap();
    let Grant::RefreshToken { scope, .. } = &refresh_request.grant else {
        panic!("refresh")
    };
    assert_eq!(
        redeem_refresh(Some(&first), "cli", scope.as_ref(), t(2000)),
        RefreshDecision::Rotate {
            scope: ScopeSet::parse("openid").unwrap()
        }
    );
    first.status = RefreshStatus::Rotated;
    assert!(matches!(
        redeem_refresh(Some(&first), "cli", None, t(2001)),
        RefreshDecision::RevokeFamily { ref family_id, .. } if family_id == "fam-1"
    ));

    // 8. Logout with the (even expired) ID token as hint, back to a registered URI.
    let hint_claims = keys
        .verify(
            &id_token,
            &JwtExpectations::new(ISSUER, Audience::Any, 1_000_000).allow_expired(),
        )
        .unwrap();
    let hint = IdTokenHint::from_claims(&hint_claims.claims).unwrap();
    let logout = LogoutRequest::parse(&Params::parse(
        "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9002%2Fsigned-out&state=bye",
    ))
    .unwrap();
    assert_eq!(logout.client_id(Some(&hint)), Some("cli"));
    assert_eq!(
        decide_logout(&logout, Some(&hint), Some(&client), Some("00u-alice")),
        LogoutDecision::LogOut {
            confirm: false,
            redirect: Some("http://127.0.0.1:9002/signed-out?state=bye".into())
        }
    );
}

#[test]
fn wrong_verifier_missing_pkce_and_redirect_mismatch_are_refused() {
    let issuer = issuer();
    let client = cli();
    let no_pkce = Params::parse(
        "response_type=code&client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A9002%2Fcallback&scope=openid&state=s",
    );
    let AuthorizeOutcome::Redirect { error, location } = validate_authorize(&no_pkce, Some(&client), &issuer)
    else {
        panic!("redirected error")
    };
    assert_eq!(error.code, ErrorCode::InvalidRequest);
    assert!(location.starts_with("http://127.0.0.1:9002/callback?error=invalid_request"));
    let mismatch = Params::parse(
        "response_type=code&client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A9002%2Fcallback2&scope=openid",
    );
    assert!(matches!(
        validate_authorize(&mismatch, Some(&client), &issuer),
        AuthorizeOutcome::ErrorPage(_)
    ));
    let record = CodeRecord {
        client_id: "cli".into(),
        redirect_uri: "http://127.0.0.1:9002/callback".into(),
        code_challenge: Some(pkce::s256_challenge(
            "right-verifier-right-verifier-right-verifier",
        )),
        issued_at: t(0),
        redeemed: false,
    };
    let CodeDecision::Reject(e) = redeem_code(
        Some(&record),
        "cli",
        Some("http://127.0.0.1:9002/callback"),
        Some("wrong-verifier-wrong-verifier-wrong-verifier"),
        t(10),
    ) else {
        panic!("rejected")
    };
    assert_eq!((e.code(), e.status()), (ErrorCode::InvalidGrant, 400));
}

#[test]
fn client_credentials_for_the_reports_service() {
    let issuer = issuer();
    let keys = keys();
    let client = reports();
    let form = Params::parse("grant_type=client_credentials&scope=reports.read");
    let request = parse_token_request(&form, Some(&basic("reports-service", "demo-reports-secret"))).unwrap();
    let authenticated = request.authenticate(Some(&client)).unwrap();
    let Grant::ClientCredentials { scope } = &request.grant else {
        panic!("cc")
    };
    let AccessGrant {
        access_token_lifetime,
        ..
    } = policies()
        .evaluate(&AccessRequest {
            client_id: authenticated.client_id(),
            grant_type: GrantType::ClientCredentials,
            scopes: scope,
            user: None,
        })
        .into_result()
        .unwrap();
    let token = keys
        .sign_typed(
            SigningAlgorithm::Es256,
            ACCESS_TOKEN_TYPE,
            &access_token_claims(&AccessTokenInput {
                issuer: &issuer,
                audience: ISSUER,
                client_id: "reports-service",
                scope,
                now: t(5000),
                lifetime: access_token_lifetime.duration(),
                jti: "cc-1",
                user: None,
            }),
        )
        .unwrap();
    let aud = [ISSUER];
    let claims = keys
        .verify(
            &token,
            &JwtExpectations::new(ISSUER, Audience::OneOf(&aud), 5001).with_type("at+jwt"),
        )
        .unwrap();
    assert_eq!(claims.claims["sub"], "reports-service");
    assert_eq!(claims.claims["exp"], 5000 + 3600);
    // The dashboard (no client-credentials grant) and a wrong secret are refused.
    let e = request.authenticate(Some(&dashboard())).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidClient);
    let wrong = parse_token_request(&form, Some(&basic("reports-service", "nope"))).unwrap();
    let e = wrong.authenticate(Some(&client)).unwrap_err();
    assert_eq!(
        (e.status(), e.www_authenticate().as_deref()),
        (401, Some("Basic realm=\"gatehouse\""))
    );
}

#[test]
fn a_client_no_rule_covers_ends_in_the_exact_policy_error() {
    let issuer = issuer();
    let client = blocked();
    let policies = policies();
    let params = Params::parse(
        "response_type=code&client_id=blocked-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9003%2Fcallback&scope=openid&state=s9",
    );
    let AuthorizeOutcome::Valid(request) = validate_authorize(&params, Some(&client), &issuer) else {
        panic!("valid")
    };
    assert!(!policies.could_allow("blocked-app", GrantType::AuthorizationCode, &request.scope));
    let groups = vec![];
    let decision = policies.evaluate(&AccessRequest {
        client_id: "blocked-app",
        grant_type: GrantType::AuthorizationCode,
        scopes: &request.scope,
        user: Some(AccessUser {
            id: "u",
            login: "alice",
            groups: &groups,
        }),
    });
    let error = decision.into_result().unwrap_err();
    assert_eq!(
        request.error_redirect(&error, &issuer),
        "http://127.0.0.1:9003/callback?error=access_denied&error_description=Policy+evaluation+failed+for+this+request.\
         &state=s9&iss=http%3A%2F%2Flocalhost%3A8080"
    );
    // At the token endpoint the same denial is a 400 with the same body.
    let token_error = gatehouse_oidc::TokenError::from(error);
    assert_eq!(token_error.status(), 400);
    assert_eq!(
        token_error.to_json()["error_description"],
        "Policy evaluation failed for this request."
    );
}
