//! The domain of Gatehouse, pure: values in, decisions out. No I/O, no clock, no randomness —
//! times and ids are parameters, so everything here is testable without a database or a server.
//!
//! Layout:
//! - [`model`]: the records of DESIGN section 2 (users, groups, applications, zones,
//!   authenticator enrollments, devices, sessions, flows, system log events) and the rules that
//!   belong to a single record, such as the user status lifecycle.
//! - [`device`]: the device rules of Gatehouse Verify (lifecycle, challenges, proofs).
//! - [`risk`]: the risk scorer: signals about a sign-in turned into a level (DESIGN section 9).
//! - [`error`]: [`CoreError`], the crate's one error type.

pub mod device;
pub mod error;
pub mod model;
pub mod risk;

pub use error::CoreError;
