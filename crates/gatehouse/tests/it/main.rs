//! Integration tests of the `gatehouse` binary, run as a real process.

#![expect(
    clippy::unwrap_used,
    reason = "fixtures and helpers of a test binary fail the test loudly"
)]

mod admin_cli;
mod config_seed;
mod policy_cli;
