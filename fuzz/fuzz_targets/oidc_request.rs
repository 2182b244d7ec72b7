//! OAuth/OIDC requests as a client sends them: the form (or query) of an authorization request
//! and of a token request, with an optional `Authorization` header after the first newline. Each
//! must end in a valid request or a protocol error, never a panic.
#![no_main]

use gatehouse_oidc::token::parse_token_request;
use gatehouse_oidc::{ClientKind, ClientRegistration, GrantType, Issuer, Params, validate_authorize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (form, authorization) = match text.split_once('\n') {
        Some((form, header)) => (form, Some(header)),
        None => (text, None),
    };
    let params = Params::parse(form);
    let Ok(issuer) = Issuer::parse("https://id.example.com") else {
        return;
    };
    for kind in [ClientKind::Confidential, ClientKind::Public] {
        let client = ClientRegistration {
            client_id: "app".to_owned(),
            kind,
            redirect_uris: vec!["https://app.example.com/cb".to_owned()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            secret_sha256_hex: None,
        };
        let _ = validate_authorize(&params, Some(&client), &issuer);
    }
    let _ = parse_token_request(&params, authorization);
});
