//! Integration tests of `gatehouse-oidc`: whole protocol exchanges driven through the public API
//! with real keys from `gatehouse-crypto`, and property tests of the invariants.

#![expect(clippy::unwrap_used, reason = "fixtures and helpers of a test binary fail the test loudly")]

mod fixtures;
mod flows;
mod properties;
