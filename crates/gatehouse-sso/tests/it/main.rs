//! The gateway's one integration-test binary: real servers on 127.0.0.1:0, real SQLite and
//! PostgreSQL databases, a clock the tests move forward, a controllable test IdP and provisioning service.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod flows;
mod idp;
mod provsvc;
mod store;
mod support;
