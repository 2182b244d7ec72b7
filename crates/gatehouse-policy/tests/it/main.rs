//! gatehouse-policy's integration tests, one binary: data-driven cases (`tests/cases/*`), the
//! checks of `policy check`, evaluation behaviour, property tests, and the Okta import.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "fixtures and helpers of a test binary fail the test loudly"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "the tests read their data files; the crate's clippy.toml keeps file access out of the library"
)]

mod cases;
mod check;
mod evaluate;
mod okta;
mod props;
mod support;
