//! Gatehouse Verify, the device authenticator of Gatehouse (DESIGN.md section 7): a command line
//! and a loopback daemon that hold the device's keys and answer the server's challenges. The
//! protocol it speaks is `docs/verify-protocol.md`.
//!
//! Layout, from the outside in:
//! - [`cli`] and [`commands`]: the `gatehouse-verify` command line (`enroll`, `status`, `daemon`,
//!   `approve`, `deny`, `totp`, `enroll-biometrics`, `unenroll`).
//! - [`daemon`]: the loopback HTTP API (`GET /probe`, `POST /challenge`, CORS and Private Network
//!   Access for the enrolled origin only) and the push long-poll.
//! - [`flow`]: the enrollment sign-in (a public OIDC client driving the flow JSON API).
//! - [`server`]: the HTTP client of the server (discovery, JWKS, device API).
//! - [`responder`]: decides and signs the answer to a verified challenge — the only caller of the
//!   user-verification provider and of user-verification keys.
//! - [`protocol`]: challenge JWS verification, device proofs, wire ↔ core conversions.
//! - [`keystore`]: P-256 keys behind one trait (`software` file, `pkcs11` token).
//! - [`uv`]: user-verification providers (`test`, `pin`, `fprintd`).
//! - [`facts`]: what the device reports about itself; [`home`]: the state directory.
//!
//! The canonical messages and answer rules come from `gatehouse_core::device`; signature and JWS
//! verification from `gatehouse_crypto`. Only the keystores sign (they hold the device's keys).

pub mod cli;
pub mod commands;
pub mod daemon;
mod error;
pub mod facts;
pub mod flow;
pub mod home;
pub mod keystore;
pub mod protocol;
pub mod responder;
pub mod server;
pub mod uv;

pub use error::VerifyError;
