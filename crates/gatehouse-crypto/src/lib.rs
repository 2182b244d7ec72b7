//! The one crate of Gatehouse that touches cryptography.
//!
//! Everything secret or signed passes through here so that the rest of the workspace handles only
//! bytes and opaque values: `keyring` seals secrets at rest (AES-256-GCM under a rotatable set of
//! key ids), `random` draws ids, tokens and nonces from the operating system, `compare` holds the
//! constant-time comparisons, `password` hashes user passwords with argon2id, and `digest` stores
//! high-entropy secrets as SHA-256 digests. Further modules (passwords, TOTP, signing keys and JWKS,
//! proof-of-possession signatures) live beside them, one job each.

pub mod compare;
pub mod digest;
mod error;
pub mod keyring;
pub mod password;
pub mod random;

pub use compare::constant_time_eq;
pub use error::CryptoError;
pub use keyring::Keyring;
pub use password::{PasswordHasher, PasswordParams};
