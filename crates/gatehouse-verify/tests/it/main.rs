//! Gatehouse Verify's one integration-test binary: the keystores (software and SoftHSM2), the
//! user-verification providers, the loopback daemon in-process, and the real `gatehouse-verify`
//! binary, all against a reference implementation of the server side of
//! `docs/verify-protocol.md` (`support::refserver`) bound on 127.0.0.1:0.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    clippy::result_large_err
)]

mod cli;
mod daemon;
mod keystore;
mod support;
mod uv;
