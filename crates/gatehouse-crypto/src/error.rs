//! The crate's one error type.

/// Everything that can go wrong in `gatehouse-crypto`, phrased for the operator who must fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the keyring is empty: give at least one key as `kid:base64key`")]
    Empty,
    #[error("keyring entry `{0}` is not of the form `kid:base64key`")]
    BadEntry(String),
    #[error("key id `{0}` must be 1 to 32 letters, digits, `-` or `_`")]
    BadKeyId(String),
    #[error("key `{0}` must be 32 bytes of base64")]
    BadKey(String),
    #[error("key id `{0}` appears twice in the keyring")]
    DuplicateKeyId(String),
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value names key `{0}`, which the keyring does not hold")]
    UnknownKey(String),
    #[error("the sealed value failed authentication (wrong key, wrong row, or tampered)")]
    Unauthentic,
    #[error("invalid argon2id parameters: {0}")]
    PasswordParams(String),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}
