//! `gatehouse-sso`: the multi-tenant relying-party gateway a SaaS product puts in front of its
//! dashboard (DESIGN.md section 11).
//!
//! Each customer organisation (a *tenant*, named by a slug) signs in with its own OpenID Connect
//! provider; the first login of a tenant provisions its workspace (project, `advanced`
//! subscription, owner) through HTTP provisioning services reached via a stored outbox.
//!
//! Layout, from the pure core outwards:
//! - [`domain`]: validated values (tenant slug, issuer, origins, …), the login-state lifetime,
//!   the provisioning plan and retry schedule, and the advice shown for IdP errors. Pure: no I/O,
//!   no clock, no randomness.
//! - [`clock`]: the injectable clock (the tests' time machine; also the ID-token leeway's clock).
//! - [`store`]: the storage seam and its SQLite and PostgreSQL backends with per-dialect
//!   migrations.
//! - [`oidc`]: discovery, authorization requests, code exchange and ID-token validation on the
//!   `openidconnect` crate, with the gaps it leaves closed (leeway, `iat`, algorithms from
//!   discovery, JWKS refetch on an unknown key id).
//! - [`provision`]: the provisioning outbox runner, its HTTP client, and the embedded default
//!   provisioning services.
//! - [`http`]: the axum edge: admin API, sign-in endpoints, dashboard, error pages, CORS.
//! - [`app`]: configuration, start-up (database, keyring, demo tenant) and `serve`.
//! - [`error`]: the crate's one error type.

pub mod app;
pub mod clock;
pub mod domain;
pub mod error;
pub mod http;
pub mod oidc;
pub mod provision;
pub mod store;

pub use app::{App, Config, serve};
pub use error::SsoError;
