//! Device keystores behind one trait: P-256 keys that are generated inside the keystore, used
//! to sign, and never leave it.
//!
//! - [`software`]: keys in `keys.json` under the Verify home, mode 0600 (reported as `software`).
//! - [`pkcs11`]: keys generated inside a PKCS#11 token (`CKA_SENSITIVE`, not `CKA_EXTRACTABLE`),
//!   tested against SoftHSM2 (reported as `hardware`).
//!
//! A key is named by the keystore's own reference (`key_ref`); which key is the
//! proof-of-possession key and which the user-verification key is recorded in the enrollment.
//! Using a user-verification key after the local check is [`crate::uv`]'s business: the
//! keystore signs whatever it is asked to, and only [`crate::responder`] asks it to sign with a
//! user-verification key, holding a [`crate::uv::UvGrant`].

pub mod pkcs11;
pub mod software;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{DeviceKey, KeyStorage, PublicJwk, UserVerificationKey, UserVerificationLevel};
use gatehouse_crypto::P256PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;
use crate::home::Home;

/// A freshly generated key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub key_ref: String,
    pub public: P256PublicKey,
}

/// A place where device keys are generated and used.
pub trait Keystore: Send + Sync + fmt::Debug {
    /// How the keys are stored, as reported to the server.
    fn storage(&self) -> KeyStorage;
    /// Generates a new P-256 key pair inside the keystore.
    fn generate(&self) -> Result<GeneratedKey, VerifyError>;
    /// The public key of `key_ref`.
    fn public_key(&self, key_ref: &str) -> Result<P256PublicKey, VerifyError>;
    /// An ECDSA P-256 / SHA-256 signature over `message`, as 64 bytes `r‖s`.
    fn sign(&self, key_ref: &str, message: &[u8]) -> Result<[u8; 64], VerifyError>;
    /// Destroys the key; a missing key is not an error.
    fn delete(&self, key_ref: &str) -> Result<(), VerifyError>;
}

/// A secret kept in the enrollment file (the PKCS#11 user PIN), never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Which keystore an enrollment uses, as stored in `enrollment.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeystoreConfig {
    Software,
    Pkcs11 {
        module: PathBuf,
        token_label: String,
        token_serial: String,
        /// The user PIN: the proof-of-possession key signs silently, so the daemon needs it.
        pin: Secret,
    },
}

impl KeystoreConfig {
    /// Opens the keystore this configuration names.
    pub fn open(&self, home: &Home) -> Result<Arc<dyn Keystore>, VerifyError> {
        Ok(match self {
            Self::Software => Arc::new(software::SoftwareKeystore::new(home.clone())),
            Self::Pkcs11 {
                module,
                token_serial,
                pin,
                ..
            } => Arc::new(pkcs11::Pkcs11Keystore::open(
                module,
                &pkcs11::TokenSelector::Serial(token_serial.clone()),
                pin.expose(),
            )?),
        })
    }

    /// The name of the keystore kind: `software` or `pkcs11`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::Pkcs11 { .. } => "pkcs11",
        }
    }
}

/// The public JWK of a key, as the wire types carry it.
pub fn public_jwk(public: &P256PublicKey) -> PublicJwk {
    let jwk = public.to_jwk();
    let member = |name: &str| {
        jwk.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    PublicJwk {
        kty: member("kty"),
        crv: member("crv"),
        x: member("x"),
        y: member("y"),
    }
}

/// A device key as registered with the server.
pub fn device_key(public: &P256PublicKey, storage: KeyStorage) -> DeviceKey {
    DeviceKey {
        kid: public.thumbprint(),
        jwk: public_jwk(public),
        storage,
    }
}

/// A user-verification key as registered with the server.
pub fn user_verification_key(
    public: &P256PublicKey,
    storage: KeyStorage,
    level: UserVerificationLevel,
) -> UserVerificationKey {
    UserVerificationKey {
        kid: public.thumbprint(),
        jwk: public_jwk(public),
        storage,
        user_verification: level,
    }
}

/// base64url of a 64-byte signature, as the answer carries it.
pub fn encode_signature(signature: &[u8; 64]) -> String {
    URL_SAFE_NO_PAD.encode(signature)
}
