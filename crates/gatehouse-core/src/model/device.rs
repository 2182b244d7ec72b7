//! Registered devices (DESIGN section 7): the record only. What a device may do in each status
//! (the lifecycle rules) belongs to `crate::device::lifecycle`, whose status type this record uses.

use jiff::Timestamp;

use super::app::string_enum;
use super::id::{DeviceId, UserId};
use crate::device::UserVerification;

/// Where a device is in its lifecycle: the status of the device rules (`crate::device`).
pub use crate::device::DeviceStatus;

string_enum!(
    /// Where Verify keeps the device's keys: a file (`software`) or a PKCS#11 token (hardware).
    KeyStorage, "key_storage" {
        Software => "software",
        Pkcs11 => "pkcs11",
    }
);

/// A device registered by Gatehouse Verify, linking a user, the device and that Verify instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub user_id: UserId,
    pub status: DeviceStatus,
    pub display_name: String,
    /// `macos`, `windows`, `linux`, `ios`, `android`, … as reported.
    pub platform: String,
    pub os_version: String,
    pub model: String,
    pub secure_hardware: bool,
    pub managed: bool,
    pub biometric_capable: bool,
    pub key_storage: KeyStorage,
    /// The proof-of-possession public key (JWK JSON).
    pub pop_public_key: String,
    /// The user-verification public key (JWK JSON), once created.
    pub uv_public_key: Option<String>,
    /// What unlocking the user-verification key proves.
    pub uv_level: Option<UserVerification>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
}

impl Device {
    /// Whether the proof-of-possession key is hardware protected.
    pub fn pop_key_hardware_protected(&self) -> bool {
        self.key_storage == KeyStorage::Pkcs11
    }
}
