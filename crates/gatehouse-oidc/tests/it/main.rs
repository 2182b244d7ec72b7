//! Integration tests of `gatehouse-oidc`: whole protocol exchanges driven through the public API
//! with real keys from `gatehouse-crypto`, and property tests of the invariants.

#![expect(
    clippy::unwrap_used,
    reason = "fixtures and helpers of a test binary fail the test loudly"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "the tests play the caller, who generates the signing keys"
)]

mod fixtures;
mod flows;
mod properties;
