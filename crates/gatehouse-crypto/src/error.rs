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

    // TOTP (`totp`)
    #[error("the TOTP secret is not valid base32")]
    TotpSecretEncoding,
    #[error("the TOTP secret has {bits} bits; at least {min} are required")]
    TotpSecretTooShort { bits: usize, min: usize },
    #[error("TOTP algorithm `{0}` is not one of SHA1, SHA256, SHA512")]
    TotpAlgorithm(String),
    #[error("TOTP digits must be 6 or 8, not `{0}`")]
    TotpDigits(String),
    #[error("the otpauth label part `{0}` must be non-empty and must not contain `:`")]
    TotpLabel(String),

    // Signing keys and JWTs (`signing`)
    #[error("signing algorithm `{0}` is not supported (ES256 or RS256)")]
    UnsupportedAlgorithm(String),
    #[error("the private key is not a valid PKCS#8 {0} key")]
    BadSigningKey(&'static str),
    #[error("generating a {0} key failed")]
    KeyGeneration(&'static str),
    #[error("signing key `{0}` appears twice in the key set")]
    DuplicateSigningKey(String),
    #[error("the key set has two active {0} keys (`{1}` and `{2}`); one must be retiring")]
    TwoActiveKeys(&'static str, String, String),
    #[error("the key set has no active {0} key")]
    NoActiveKey(&'static str),
    #[error("signing failed")]
    SigningFailed,
    #[error("the key set is not valid JWKS JSON: {0}")]
    BadJwks(String),

    // Token and signature verification (`signing`, `pop`)
    #[error("the token is not a well-formed compact JWS")]
    MalformedToken,
    #[error("the token's algorithm `{0}` is not accepted here")]
    TokenAlgorithm(String),
    #[error("the token's type `{0}` is not the one expected")]
    TokenType(String),
    #[error("no published key matches the token (key id `{0}`)")]
    UnknownTokenKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the token is not valid yet")]
    TokenNotYetValid,
    #[error("the token was issued by another issuer")]
    TokenIssuer,
    #[error("the token is meant for another audience")]
    TokenAudience,
    #[error("the token's claim `{0}` is missing or malformed")]
    TokenClaim(String),
    #[error("the token's header names critical extensions, which are not supported")]
    TokenCritical,
    #[error("the public key is not a valid P-256 key: {0}")]
    BadPublicKey(&'static str),
}
