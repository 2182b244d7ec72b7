//! Wire types (DTOs) shared by the server, Gatehouse Verify, the gateway and tests, each with an
//! OpenAPI schema (`utoipa::ToSchema`). Domain types never cross the wire directly: the server
//! converts explicitly.
//!
//! - [`admin`]: the admin API (`/api/v1`): users, groups, apps, zones, policies, access rules,
//!   enrollments, sessions, the system log.
//! - [`error`]: the error body every JSON endpoint answers with.
//! - [`device`]: the device protocol of Gatehouse Verify.

pub mod admin;
pub mod device;
pub mod error;
