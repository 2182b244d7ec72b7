#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

//! The server's integration tests: one binary (linking dominates on two cores), one module per
//! area, each test with its own server on `127.0.0.1:0` and its own database.

mod admin;
mod console;
mod dashboard;
mod devices;
mod flows;
mod health;
mod oidc;
mod risk;
mod support;
mod webauthn;
