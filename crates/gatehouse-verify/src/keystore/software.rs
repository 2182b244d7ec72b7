//! The `software` keystore: P-256 private keys in `keys.json` under the Verify home (mode 0600,
//! written atomically), each named by its public key's thumbprint. The key material is as safe
//! as the user's account: the server is told `storage: software`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::KeyStorage;
use gatehouse_crypto::P256PublicKey;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{GeneratedKey, Keystore};
use crate::error::VerifyError;
use crate::home::{Home, KEYS_FILE};

/// Keys in a file under the Verify home.
#[derive(Debug, Clone)]
pub struct SoftwareKeystore {
    home: Home,
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    /// key_ref → base64url private scalar (32 bytes).
    keys: BTreeMap<String, String>,
}

impl SoftwareKeystore {
    pub fn new(home: Home) -> Self {
        Self { home }
    }

    fn load(&self) -> Result<KeyFile, VerifyError> {
        Ok(self.home.read_json(KEYS_FILE)?.unwrap_or_default())
    }

    fn signing_key(&self, key_ref: &str) -> Result<SigningKey, VerifyError> {
        let file = self.load()?;
        let encoded = file
            .keys
            .get(key_ref)
            .ok_or_else(|| VerifyError::MissingKey(key_ref.to_owned()))?;
        let scalar = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|e| VerifyError::corrupt(self.home.path(KEYS_FILE), e))?,
        );
        SigningKey::from_slice(&scalar).map_err(|e| VerifyError::corrupt(self.home.path(KEYS_FILE), e))
    }
}

fn public_of(key: &SigningKey) -> Result<P256PublicKey, VerifyError> {
    let point = key.verifying_key().to_sec1_point(false);
    P256PublicKey::from_sec1(point.as_bytes()).map_err(|e| VerifyError::KeyGeneration(e.to_string()))
}

impl Keystore for SoftwareKeystore {
    fn storage(&self) -> KeyStorage {
        KeyStorage::Software
    }

    fn generate(&self) -> Result<GeneratedKey, VerifyError> {
        // A uniformly random 32-byte string is a valid scalar except with probability ~2^-32;
        // draw again in that case.
        let key = (0..8)
            .find_map(|_| {
                let scalar = Zeroizing::new(gatehouse_crypto::random::bytes::<32>());
                SigningKey::from_slice(scalar.as_slice()).ok()
            })
            .ok_or_else(|| VerifyError::KeyGeneration("no valid P-256 scalar was drawn".to_owned()))?;
        let public = public_of(&key)?;
        let key_ref = public.thumbprint();
        let mut file = self.load()?;
        let scalar = Zeroizing::new(key.to_bytes());
        file.keys
            .insert(key_ref.clone(), URL_SAFE_NO_PAD.encode(scalar.as_slice()));
        self.home.write_json(KEYS_FILE, &file)?;
        Ok(GeneratedKey { key_ref, public })
    }

    fn public_key(&self, key_ref: &str) -> Result<P256PublicKey, VerifyError> {
        public_of(&self.signing_key(key_ref)?)
    }

    fn sign(&self, key_ref: &str, message: &[u8]) -> Result<[u8; 64], VerifyError> {
        let signature: Signature = self.signing_key(key_ref)?.sign(message);
        Ok(signature.to_bytes().into())
    }

    fn delete(&self, key_ref: &str) -> Result<(), VerifyError> {
        let mut file = self.load()?;
        if file.keys.remove(key_ref).is_some() {
            self.home.write_json(KEYS_FILE, &file)?;
        }
        Ok(())
    }
}
