//! The facts a device reports at enrollment: platform, OS version, model, host name, secure
//! hardware, management, biometric capability, key storage and the installation id.
//!
//! **Managed** comes from a management attestation: a file `management-attestation` in the
//! Verify home, written by the organisation's device-management tooling (its content is sent to
//! the server as `management_attestation`, opaque to Verify), or the `enroll --managed` flag,
//! which sends the self-reported attestation [`SELF_REPORTED_MANAGEMENT`]. The server records
//! either as it is; verifying attestations against a device-management issuer is the server's
//! job (see `docs/verify-protocol.md`).

use std::fs;
use std::path::Path;

use gatehouse_api::device::{DeviceFacts, Platform};

use crate::error::VerifyError;
use crate::home::Home;

/// The attestation sent for `enroll --managed` without a management-attestation file.
pub const SELF_REPORTED_MANAGEMENT: &str = "self-reported:--managed";

/// What the command line says about the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactOptions {
    pub biometric_capable: bool,
    pub managed: bool,
    /// The keys live in a hardware token (PKCS#11).
    pub hardware_keystore: bool,
}

/// Collects the facts of this device.
pub fn collect(home: &Home, options: FactOptions) -> Result<DeviceFacts, VerifyError> {
    let attestation = home.management_attestation()?;
    let management_attestation = match (attestation, options.managed) {
        (Some(file), _) => Some(file),
        (None, true) => Some(SELF_REPORTED_MANAGEMENT.to_owned()),
        (None, false) => None,
    };
    let tpm = Path::new("/dev/tpmrm0").exists() || Path::new("/sys/class/tpm/tpm0").exists();
    Ok(DeviceFacts {
        platform: platform(std::env::consts::OS),
        os_version: os_version(),
        model: read_trimmed("/sys/devices/virtual/dmi/id/product_name")
            .unwrap_or_else(|| "unknown".to_owned()),
        display_name: read_trimmed("/proc/sys/kernel/hostname")
            .or_else(|| read_trimmed("/etc/hostname"))
            .unwrap_or_else(|| "unknown".to_owned()),
        secure_hardware_present: options.hardware_keystore || tpm,
        managed: management_attestation.is_some(),
        management_attestation,
        biometric_capable: options.biometric_capable,
        installation_id: home.installation_id()?,
        verify_version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// The platform name policies use for Rust's `std::env::consts::OS`.
pub fn platform(os: &str) -> Platform {
    match os {
        "linux" => Platform::Linux,
        "macos" => Platform::Macos,
        "windows" => Platform::Windows,
        "ios" => Platform::Ios,
        "android" => Platform::Android,
        _ => Platform::Other,
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn os_version() -> String {
    let name = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| pretty_name(&text))
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    match read_trimmed("/proc/sys/kernel/osrelease") {
        Some(kernel) => format!("{name}; kernel {kernel}"),
        None => name,
    }
}

/// `PRETTY_NAME` (else `NAME` + `VERSION_ID`) from an os-release file.
pub fn pretty_name(os_release: &str) -> Option<String> {
    let value = |key: &str| {
        os_release.lines().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
    };
    value("PRETTY_NAME").or_else(|| match (value("NAME"), value("VERSION_ID")) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (Some(name), None) => Some(name),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_names_are_read() {
        assert_eq!(
            pretty_name("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
                .as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            pretty_name("NAME=Alpine\nVERSION_ID=3.20\n").as_deref(),
            Some("Alpine 3.20")
        );
        assert_eq!(pretty_name("ID=x\n"), None);
        assert_eq!(platform("linux"), Platform::Linux);
        assert_eq!(platform("freebsd"), Platform::Other);
    }

    #[test]
    fn management_comes_from_the_attestation_file_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(Some(dir.path())).unwrap();
        let plain = collect(&home, FactOptions::default()).unwrap();
        assert!(!plain.managed && plain.management_attestation.is_none());
        let flagged = collect(
            &home,
            FactOptions {
                managed: true,
                hardware_keystore: true,
                ..FactOptions::default()
            },
        )
        .unwrap();
        assert!(flagged.managed && flagged.secure_hardware_present);
        assert_eq!(
            flagged.management_attestation.as_deref(),
            Some(SELF_REPORTED_MANAGEMENT)
        );
        fs::write(home.path("management-attestation"), "mdm:acme:device-cert-7f3a\n").unwrap();
        let attested = collect(&home, FactOptions::default()).unwrap();
        assert!(attested.managed);
        assert_eq!(
            attested.management_attestation.as_deref(),
            Some("mdm:acme:device-cert-7f3a")
        );
        assert_eq!(attested.installation_id, plain.installation_id);
    }
}
