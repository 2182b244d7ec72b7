//! The one crate of Gatehouse that touches cryptography.
//!
//! Everything secret or signed passes through here so that the rest of the workspace handles only
//! bytes and opaque values: `keyring` seals secrets at rest (AES-256-GCM under a rotatable set of
//! key ids), `random` draws ids, tokens and nonces from the operating system, `compare` holds the
//! constant-time comparisons, `password` hashes user passwords with argon2id, and `digest` stores
//! high-entropy secrets as SHA-256 digests, `totp` checks RFC 6238 codes (each step accepted
//! once), `signing` holds the token signing keys (ES256, RS256), the key set with its JWKS and JWT
//! verification, `opaque` seals tokens only Gatehouse reads (AES-256-GCM under keys derived from the
//! signing keys), `pop` checks a device's proof-of-possession signatures (P-256), and `pkce`
//! computes and checks S256 code challenges. Time is always a parameter: nothing here reads the
//! clock, so callers stay testable.

pub mod compare;
pub mod digest;
mod error;
pub mod keyring;
pub mod opaque;
pub mod password;
pub mod pkce;
pub mod pop;
pub mod random;
pub mod signing;
pub mod totp;

pub use compare::constant_time_eq;
pub use error::CryptoError;
pub use keyring::Keyring;
pub use password::{PasswordHasher, PasswordParams};
pub use pop::{P256PublicKey, VerifiedJws, verify_es256_jws, verify_p256_signature};
pub use signing::{
    Audience, Jwks, JwtExpectations, KeySet, KeyStatus, SigningAlgorithm, SigningKey, VerifiedJwt,
};
pub use totp::{Totp, TotpAlgorithm, TotpDigits, TotpParams, TotpSecret};
