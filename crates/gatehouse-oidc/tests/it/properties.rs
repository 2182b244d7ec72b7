//! Property tests: each invariant in one sentence, checked over generated inputs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_crypto::digest::sha256_hex;
use gatehouse_oidc::code::{CodeDecision, CodeRecord, redeem_code};
use gatehouse_oidc::refresh::{RefreshDecision, RefreshRecord, RefreshStatus, redeem_refresh};
use gatehouse_oidc::token::parse_client_auth;
use gatehouse_oidc::{
    AuthorizeOutcome, ClientKind, ClientRegistration, GrantType, Params, ScopeSet, validate_authorize,
};
use jiff::Timestamp;
use proptest::prelude::*;

use crate::fixtures::issuer;

fn client_with(redirect: &str) -> ClientRegistration {
    ClientRegistration {
        client_id: "app".into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![redirect.into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode],
        secret_sha256_hex: Some(sha256_hex(b"s")),
    }
}

fn uri_near(base: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(base.to_owned()),
        Just(format!("{base}/")),
        Just(base.to_uppercase()),
        Just(format!("{base}?a=1")),
        Just(base.replace("127.0.0.1", "localhost")),
        "[a-zA-Z0-9:/._?=&%-]{0,40}".prop_map(|s| s),
        "[a-zA-Z0-9/._-]{0,8}".prop_map(move |s| format!("{base}{s}")),
    ]
}

proptest! {
    /// A request is answered without an error page exactly when its redirect URI equals a
    /// registered one byte for byte; anything else is never redirected to.
    #[test]
    fn redirect_matching_is_exact(presented in uri_near("http://127.0.0.1:9000/callback")) {
        let registered = "http://127.0.0.1:9000/callback";
        let params = Params::from_pairs([
            ("client_id", "app"),
            ("redirect_uri", presented.as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
        ]);
        let outcome = validate_authorize(&params, Some(&client_with(registered)), &issuer());
        match outcome {
            AuthorizeOutcome::ErrorPage(_) => prop_assert_ne!(presented.as_str(), registered),
            AuthorizeOutcome::Valid(r) => {
                prop_assert_eq!(presented.as_str(), registered);
                prop_assert_eq!(r.redirect_uri, registered);
            }
            AuthorizeOutcome::Redirect { .. } => prop_assert!(false, "this request has no other error"),
        }
    }

    /// Whatever order of presentations, each refresh token is accepted at most once, and once a
    /// rotated-out token comes back the family accepts nothing more.
    #[test]
    fn a_refresh_token_is_accepted_at_most_once(presentations in proptest::collection::vec(0usize..6, 1..30)) {
        let now = Timestamp::from_second(1000).unwrap();
        let scope = ScopeSet::parse("openid").unwrap();
        let mut tokens = vec![RefreshRecord {
            family_id: "fam".into(),
            client_id: "app".into(),
            scope: scope.clone(),
            status: RefreshStatus::Active,
            expires_at: Timestamp::from_second(100_000).unwrap(),
        }];
        let mut accepted = vec![0u32];
        let mut family_revoked = false;
        for index in presentations {
            let Some(record) = tokens.get(index).cloned() else { continue };
            match redeem_refresh(Some(&record), "app", None, now) {
                RefreshDecision::Rotate { .. } => {
                    prop_assert!(!family_revoked);
                    accepted[index] += 1;
                    tokens[index].status = RefreshStatus::Rotated;
                    tokens.push(RefreshRecord { status: RefreshStatus::Active, ..record });
                    accepted.push(0);
                }
                RefreshDecision::RevokeFamily { family_id, .. } => {
                    prop_assert_eq!(family_id, "fam");
                    family_revoked = true;
                    for t in &mut tokens {
                        t.status = RefreshStatus::Revoked;
                    }
                }
                RefreshDecision::Reject(_) => prop_assert!(family_revoked),
            }
        }
        prop_assert!(accepted.iter().all(|n| *n <= 1));
    }

    /// A code issues tokens at most once, and only within 60 seconds.
    #[test]
    fn a_code_is_redeemed_at_most_once(attempts in proptest::collection::vec(0i64..120, 1..10)) {
        let mut record = CodeRecord {
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:9000/callback".into(),
            code_challenge: None,
            issued_at: Timestamp::from_second(0).unwrap(),
            redeemed: false,
        };
        let mut issued = 0;
        for at in attempts {
            let decision = redeem_code(Some(&record), "app", Some("http://127.0.0.1:9000/callback"), None,
                Timestamp::from_second(at).unwrap());
            if decision == CodeDecision::Issue {
                prop_assert!(at < 60);
                issued += 1;
                record.redeemed = true;
            }
        }
        prop_assert!(issued <= 1);
    }

    /// Basic credentials encoded per RFC 6749 2.3.1 (form-urlencode, then base64) decode back to
    /// the same client id and secret, whatever characters they hold.
    #[test]
    fn basic_credentials_round_trip(id in "[ -~]{1,20}", secret in "[ -~é€]{0,30}") {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret))));
        let auth = parse_client_auth(&Params::default(), Some(&header)).unwrap();
        prop_assert_eq!(auth.client_id(), id.as_str());
        let gatehouse_oidc::ClientAuth::Basic { secret: parsed, .. } = auth else { panic!("basic") };
        prop_assert_eq!(parsed.as_str(), secret.as_str());
    }
}
