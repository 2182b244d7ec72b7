//! The HTTP edge of the Gatehouse engine: everything between a socket and the pure crates.
//!
//! [`serve`] takes a bound listener, an [`AppState`] and a shutdown signal (mini-redis style), so
//! tests start the server on `127.0.0.1:0` with a fresh database. Handlers stay thin: they parse
//! wire types (`gatehouse_api`), ask the pure crates (`gatehouse_policy`, `gatehouse_oidc`,
//! `gatehouse_core`) for decisions, and read and write through `gatehouse_store`.
//!
//! Layout:
//! - `app`: the router (every area's routes merged) and [`serve`].
//! - `config`: [`Config`], what `gatehouse serve` is told.
//! - `state`: [`AppState`], shared by every request (store, clock, hashers, keys, policy cache).
//! - `error`: [`ServerError`] (infrastructure) and [`ApiError`], the one mapping of errors to
//!   HTTP status and `{error, message, field}`.
//! - `clock`, `passwords`, `secrets`: the injectable clock, argon2id off the async threads, the
//!   master keyring for secrets at rest.
//! - `audit`: the system log writer every area uses.
//! - `directory`: the stored policies assembled into a `PolicyDocument` and compiled (cached),
//!   and `apply`, which writes a policy file into the database.
//! - `demo`: the demo organisation of DESIGN section 12; `demo_apps`: its applications as small
//!   relying parties on their callback ports, to sign in to in a browser.
//! - `health`: `/healthz`.
//! - `dashboard`: the end-user dashboard `/app`.
//! - `console`: the admin console `/admin`, a single-page app over the admin API, and the
//!   session-bound admin tokens it signs in with.
//! - `admin`: the admin API under `/api/v1` and its OpenAPI document.
//! - `oidc`: the OpenID Connect provider endpoints and signing keys.
//! - `session`: global sessions — the `gh_session` cookie, the live session of a request, ending.
//! - `flow`: sign-in flows (the interaction API) and the sign-in page.
//! - `limits`: per-IP and per-login rate limits on sign-in steps (`429` with `Retry-After`).
//! - `risk`: the facts the risk scorer reads (sign-in history, failures, zones, admin verdicts),
//!   the `gh_device` browser cookie, and the client address behind trusted proxies.

pub mod admin;
mod app;
pub mod audit;
pub mod clock;
pub mod config;
pub mod console;
pub mod dashboard;
pub mod demo;
pub mod demo_apps;
pub mod directory;
mod error;
pub mod flow;
mod handle;
mod health;
pub mod housekeeping;
pub mod limits;
pub mod metrics;
pub mod oidc;
pub mod passwords;
pub mod risk;
pub mod secrets;
pub mod seed;
pub mod session;
mod state;
pub mod verify;

pub use app::{Started, router, serve, start};
pub use clock::Clock;
pub use config::Config;
pub use error::{ApiError, ServerError};
pub use state::AppState;
