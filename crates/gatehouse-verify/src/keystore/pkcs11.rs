//! The `pkcs11` keystore: P-256 keys generated inside a PKCS#11 token with the `cryptoki` crate
//! (tested against SoftHSM2). Private keys are created `CKA_TOKEN`, `CKA_PRIVATE`,
//! `CKA_SENSITIVE` and not `CKA_EXTRACTABLE`, so they never leave the token; signing is
//! `CKM_ECDSA` over a SHA-256 digest computed here. Keys are found again by their `CKA_ID`
//! (16 random bytes, base64url as the `key_ref`) under the label `gatehouse-verify`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use gatehouse_api::device::KeyStorage;
use gatehouse_crypto::P256PublicKey;

use super::{GeneratedKey, Keystore};
use crate::error::VerifyError;

/// The `CKA_LABEL` of every object Verify creates.
pub const KEY_LABEL: &str = "gatehouse-verify";
/// DER of the named curve OID prime256v1 (1.2.840.10045.3.1.7), the `CKA_EC_PARAMS` of P-256.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Which token of the module to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSelector {
    /// The first slot with an initialised token.
    First,
    Label(String),
    Serial(String),
}

/// Keys inside a PKCS#11 token.
pub struct Pkcs11Keystore {
    context: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    label: String,
    serial: String,
}

impl std::fmt::Debug for Pkcs11Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Keystore")
            .field("slot", &self.slot)
            .field("label", &self.label)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

fn ck(what: &str) -> impl FnOnce(CkError) -> VerifyError + '_ {
    move |e| match e {
        CkError::Pkcs11(rv, function) => {
            VerifyError::Pkcs11(format!("{what}: {function:?} failed with {rv:?}"))
        }
        other => VerifyError::Pkcs11(format!("{what}: {other}")),
    }
}

impl Pkcs11Keystore {
    /// Loads `module`, finds the token and checks the PIN by logging in once.
    pub fn open(module: &Path, token: &TokenSelector, pin: &str) -> Result<Self, VerifyError> {
        let context = Pkcs11::new(module).map_err(|e| {
            VerifyError::Pkcs11(format!("cannot load the module `{}`: {e}", module.display()))
        })?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(ck("initialising the module")(e)),
        }
        let mut found = None;
        for slot in context
            .get_slots_with_initialized_token()
            .map_err(ck("listing the tokens"))?
        {
            let info = context.get_token_info(slot).map_err(ck("reading a token"))?;
            let (label, serial) = (
                info.label().trim().to_owned(),
                info.serial_number().trim().to_owned(),
            );
            let wanted = match token {
                TokenSelector::First => true,
                TokenSelector::Label(want) => &label == want,
                TokenSelector::Serial(want) => &serial == want,
            };
            if wanted {
                found = Some((slot, label, serial));
                break;
            }
        }
        let (slot, label, serial) = found.ok_or_else(|| {
            VerifyError::Pkcs11(match token {
                TokenSelector::First => format!("the module `{}` has no initialised token", module.display()),
                TokenSelector::Label(l) => format!("no token labelled `{l}`"),
                TokenSelector::Serial(s) => format!("no token with serial number `{s}` (was it removed?)"),
            })
        })?;
        let keystore = Self {
            context,
            slot,
            pin: AuthPin::from(pin),
            label,
            serial,
        };
        keystore.session()?;
        Ok(keystore)
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.label
    }

    /// The token's serial number (how the enrollment finds it again).
    pub fn token_serial(&self) -> &str {
        &self.serial
    }

    /// A read-write session logged in as the user.
    fn session(&self) -> Result<Session, VerifyError> {
        let session = self
            .context
            .open_rw_session(self.slot)
            .map_err(ck("opening a session"))?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                Err(VerifyError::Pkcs11("the token PIN is not correct".to_owned()))
            }
            Err(e) => Err(ck("logging in to the token")(e)),
        }
    }

    fn find(
        &self,
        session: &Session,
        class: ObjectClass,
        id: &[u8],
    ) -> Result<Option<ObjectHandle>, VerifyError> {
        let template = [
            Attribute::Class(class),
            Attribute::Id(id.to_vec()),
            Attribute::Label(KEY_LABEL.as_bytes().to_vec()),
        ];
        Ok(session
            .find_objects(&template)
            .map_err(ck("finding a key"))?
            .into_iter()
            .next())
    }

    fn public_of(&self, session: &Session, handle: ObjectHandle) -> Result<P256PublicKey, VerifyError> {
        let attributes = session
            .get_attributes(handle, &[AttributeType::EcPoint])
            .map_err(ck("reading a public key"))?;
        let point = attributes
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| VerifyError::Pkcs11("the public key has no EC point".to_owned()))?;
        P256PublicKey::from_sec1(unwrap_octet_string(&point))
            .map_err(|e| VerifyError::Pkcs11(format!("the token returned an invalid public key: {e}")))
    }

    fn id_of(key_ref: &str) -> Result<Vec<u8>, VerifyError> {
        URL_SAFE_NO_PAD
            .decode(key_ref)
            .map_err(|_| VerifyError::MissingKey(key_ref.to_owned()))
    }

    /// Whether the private key's secret value can be read out of the token (it never should).
    pub fn private_value_readable(&self, key_ref: &str) -> Result<bool, VerifyError> {
        let session = self.session()?;
        let id = Self::id_of(key_ref)?;
        let handle = self
            .find(&session, ObjectClass::PRIVATE_KEY, &id)?
            .ok_or_else(|| VerifyError::MissingKey(key_ref.to_owned()))?;
        let info = session
            .get_attribute_info(handle, &[AttributeType::Value])
            .map_err(ck("reading key attributes"))?;
        let flags = session
            .get_attributes(handle, &[AttributeType::Extractable, AttributeType::Sensitive])
            .map_err(ck("reading key attributes"))?;
        let extractable = flags.iter().any(|a| matches!(a, Attribute::Extractable(true)));
        let sensitive = flags.iter().any(|a| matches!(a, Attribute::Sensitive(true)));
        let value_available = matches!(info.first(), Some(cryptoki::object::AttributeInfo::Available(_)));
        Ok(extractable || !sensitive || value_available)
    }
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the SEC1 point for most tokens (SoftHSM2
/// included); some return the bare point.
fn unwrap_octet_string(bytes: &[u8]) -> &[u8] {
    match bytes {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        [0x04, 0x21, rest @ ..] if rest.len() == 33 => rest,
        other => other,
    }
}

impl Keystore for Pkcs11Keystore {
    fn storage(&self) -> KeyStorage {
        KeyStorage::Hardware
    }

    fn generate(&self) -> Result<GeneratedKey, VerifyError> {
        let session = self.session()?;
        let id = gatehouse_crypto::random::bytes::<16>().to_vec();
        let label = KEY_LABEL.as_bytes().to_vec();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::Verify(true),
            Attribute::Label(label.clone()),
            Attribute::Id(id.clone()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(label),
            Attribute::Id(id.clone()),
        ];
        let (public_handle, _) = session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public_template, &private_template)
            .map_err(ck("generating a P-256 key in the token"))?;
        let public = self.public_of(&session, public_handle)?;
        Ok(GeneratedKey {
            key_ref: URL_SAFE_NO_PAD.encode(&id),
            public,
        })
    }

    fn public_key(&self, key_ref: &str) -> Result<P256PublicKey, VerifyError> {
        let session = self.session()?;
        let handle = self
            .find(&session, ObjectClass::PUBLIC_KEY, &Self::id_of(key_ref)?)?
            .ok_or_else(|| VerifyError::MissingKey(key_ref.to_owned()))?;
        self.public_of(&session, handle)
    }

    fn sign(&self, key_ref: &str, message: &[u8]) -> Result<[u8; 64], VerifyError> {
        let session = self.session()?;
        let handle = self
            .find(&session, ObjectClass::PRIVATE_KEY, &Self::id_of(key_ref)?)?
            .ok_or_else(|| VerifyError::MissingKey(key_ref.to_owned()))?;
        let digest = gatehouse_crypto::digest::sha256(message);
        let signature = session
            .sign(&Mechanism::Ecdsa, handle, &digest)
            .map_err(ck("signing in the token"))?;
        signature.try_into().map_err(|s: Vec<u8>| {
            VerifyError::Pkcs11(format!("the token returned a {}-byte signature", s.len()))
        })
    }

    fn delete(&self, key_ref: &str) -> Result<(), VerifyError> {
        let session = self.session()?;
        let id = Self::id_of(key_ref)?;
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            if let Some(handle) = self.find(&session, class, &id)? {
                session.destroy_object(handle).map_err(ck("destroying a key"))?;
            }
        }
        Ok(())
    }
}
