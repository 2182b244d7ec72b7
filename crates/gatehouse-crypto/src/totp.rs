//! Time-based one-time passwords (RFC 6238) over `totp-rs`.
//!
//! A [`TotpSecret`] is the shared key (generated with 160 bits, or imported from base32); a [`Totp`]
//! pairs it with [`TotpParams`] (HMAC algorithm, 6 or 8 digits, 30-second steps) and checks codes
//! with [`Totp::verify`]: the current step and one step either side are accepted, and a step at or
//! before the last one the caller accepted is refused, so every code works at most once. Time is
//! always a parameter (Unix seconds); nothing here reads the clock.
//!
//! Secrets of at least 128 bits go through `totp-rs`'s RFC-checked builder; shorter imported
//! secrets (down to [`MIN_IMPORTED_SECRET_BITS`], common in older authenticator exports) go
//! through its non-compliant builder. New secrets are always [`TotpSecret::generate`]d with 160 bits.

use std::fmt;
use std::str::FromStr;

use totp_rs::{Algorithm, Builder, Secret};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Seconds per step (RFC 6238's recommended value; the only one Gatehouse uses).
pub const STEP_SECONDS: u64 = 30;
/// Bits of a generated secret (RFC 4226 recommends 160).
pub const GENERATED_SECRET_BITS: usize = 160;
/// The fewest bits an imported secret may have (80-bit secrets exist in the wild).
pub const MIN_IMPORTED_SECRET_BITS: usize = 80;
/// Steps accepted on either side of the current one.
const SKEW_STEPS: u64 = 1;

/// The HMAC behind the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotpAlgorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in otpauth URIs and by pyotp: `SHA1`, `SHA256`, `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn to_lib(self) -> Algorithm {
        match self {
            Self::Sha1 => Algorithm::SHA1,
            Self::Sha256 => Algorithm::SHA256,
            Self::Sha512 => Algorithm::SHA512,
        }
    }
}

impl FromStr for TotpAlgorithm {
    type Err = CryptoError;

    /// Accepts `SHA1`, `SHA-1`, `sha256`, … (case and one dash ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(CryptoError::TotpAlgorithm(s.to_owned())),
        }
    }
}

impl fmt::Display for TotpAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many digits a code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotpDigits {
    #[default]
    Six,
    Eight,
}

impl TotpDigits {
    pub fn count(self) -> u8 {
        match self {
            Self::Six => 6,
            Self::Eight => 8,
        }
    }

    pub fn from_count(count: u8) -> Result<Self, CryptoError> {
        match count {
            6 => Ok(Self::Six),
            8 => Ok(Self::Eight),
            other => Err(CryptoError::TotpDigits(other.to_string())),
        }
    }
}

/// Algorithm and digits of an enrollment (the step is always [`STEP_SECONDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TotpParams {
    pub algorithm: TotpAlgorithm,
    pub digits: TotpDigits,
}

/// A TOTP shared secret. Its bytes are wiped on drop; `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret({} bits)", self.bits())
    }
}

impl TotpSecret {
    /// A fresh random secret of [`GENERATED_SECRET_BITS`] bits from the operating system.
    pub fn generate() -> Self {
        Self(Zeroizing::new(
            crate::random::bytes::<{ GENERATED_SECRET_BITS / 8 }>().to_vec(),
        ))
    }

    /// Parses base32 (RFC 4648 alphabet; case, spaces, dashes and `=` padding ignored), as typed
    /// from an authenticator export or the demo seed. Refuses secrets under
    /// [`MIN_IMPORTED_SECRET_BITS`].
    pub fn from_base32(text: &str) -> Result<Self, CryptoError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !matches!(c, ' ' | '-' | '='))
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        if cleaned.is_empty() || !cleaned.chars().all(|c| matches!(c, 'A'..='Z' | '2'..='7')) {
            return Err(CryptoError::TotpSecretEncoding);
        }
        let secret =
            Secret::try_from_base32(cleaned.as_str()).map_err(|_| CryptoError::TotpSecretEncoding)?;
        Self::from_bytes(secret.as_bytes())
    }

    /// Wraps raw secret bytes (for example after opening them from the keyring).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let secret = Self(Zeroizing::new(bytes.to_vec()));
        if secret.bits() < MIN_IMPORTED_SECRET_BITS {
            return Err(CryptoError::TotpSecretTooShort {
                bits: secret.bits(),
                min: MIN_IMPORTED_SECRET_BITS,
            });
        }
        Ok(secret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn bits(&self) -> usize {
        self.0.len() * 8
    }

    /// Unpadded upper-case base32, as authenticator apps and pyotp expect.
    pub fn to_base32(&self) -> String {
        Secret::from(self.0.to_vec()).to_base32()
    }
}

/// A secret with its parameters: generates and verifies codes.
#[derive(Clone)]
pub struct Totp {
    inner: totp_rs::Totp,
    params: TotpParams,
}

impl fmt::Debug for Totp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Totp {
    /// Pairs a secret with its parameters. Secrets of 128 bits or more go through the RFC-checked
    /// builder; shorter imported ones (a [`TotpSecret`] is never under 80 bits) through the
    /// non-compliant one.
    pub fn new(secret: &TotpSecret, params: TotpParams) -> Result<Self, CryptoError> {
        let builder = Builder::new()
            .with_algorithm(params.algorithm.to_lib())
            .with_digits(params.digits.count())
            .with_skew(1)
            .with_step_duration(STEP_SECONDS)
            .with_secret(secret.as_bytes().to_vec());
        let inner = if secret.bits() >= 128 {
            builder.build().map_err(|_| CryptoError::TotpSecretTooShort {
                bits: secret.bits(),
                min: 128,
            })?
        } else {
            builder.build_noncompliant()
        };
        Ok(Self { inner, params })
    }

    pub fn params(&self) -> TotpParams {
        self.params
    }

    /// The step number that `unix_time` falls in.
    pub fn step_at(unix_time: u64) -> u64 {
        unix_time / STEP_SECONDS
    }

    /// The code for the step containing `unix_time`.
    pub fn generate(&self, unix_time: u64) -> String {
        self.inner.generate(unix_time).to_string()
    }

    /// Checks `code` at `unix_time` and returns the matched step, to be stored as the new
    /// `last_accepted_step`. Accepts the current step and one either side, but never a step at or
    /// before `last_accepted_step` (a replayed or older code). Spaces in the code are ignored;
    /// anything but the right number of digits never matches. Every candidate step is compared in
    /// constant time.
    pub fn verify(&self, code: &str, unix_time: u64, last_accepted_step: Option<u64>) -> Option<u64> {
        let code: Zeroizing<String> = Zeroizing::new(code.chars().filter(|c| *c != ' ').collect());
        if code.len() != usize::from(self.params.digits.count()) || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let current = Self::step_at(unix_time);
        let mut matched = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let fresh = last_accepted_step.is_none_or(|last| step > last);
            let expected = Zeroizing::new(self.generate(step.saturating_mul(STEP_SECONDS)));
            let equal = crate::constant_time_eq(expected.as_bytes(), code.as_bytes());
            if equal && fresh && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }

    /// The `otpauth://totp/…` URI that authenticator apps import (usually shown as a QR code).
    /// Neither `issuer` nor `account` may be empty or contain `:`.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<String, CryptoError> {
        for part in [issuer, account] {
            if part.is_empty() || part.contains(':') {
                return Err(CryptoError::TotpLabel(part.to_owned()));
            }
        }
        let labelled = Builder::new()
            .with_algorithm(self.params.algorithm.to_lib())
            .with_digits(self.params.digits.count())
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.inner.secret().as_bytes().to_vec())
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build_noncompliant();
        labelled
            .to_url()
            .map_err(|_| CryptoError::TotpLabel(account.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = "GATEHOUSEDEMOALICETOTPSECRET2345";

    fn demo() -> Totp {
        Totp::new(&TotpSecret::from_base32(DEMO).unwrap(), TotpParams::default()).unwrap()
    }

    /// RFC 6238 appendix B vectors (8 digits; the ASCII seeds for each HMAC).
    #[test]
    fn rfc6238_test_vectors() {
        let seeds = [
            (TotpAlgorithm::Sha1, b"12345678901234567890".to_vec()),
            (
                TotpAlgorithm::Sha256,
                b"12345678901234567890123456789012".to_vec(),
            ),
            (
                TotpAlgorithm::Sha512,
                b"1234567890123456789012345678901234567890123456789012345678901234".to_vec(),
            ),
        ];
        let expected: [(u64, [&str; 3]); 6] = [
            (59, ["94287082", "46119246", "90693936"]),
            (1_111_111_109, ["07081804", "68084774", "25091201"]),
            (1_111_111_111, ["14050471", "67062674", "99943326"]),
            (1_234_567_890, ["89005924", "91819424", "93441116"]),
            (2_000_000_000, ["69279037", "90698825", "38618901"]),
            (20_000_000_000, ["65353130", "77737706", "47863826"]),
        ];
        for (i, (alg, seed)) in seeds.iter().enumerate() {
            let totp = Totp::new(
                &TotpSecret::from_bytes(seed).unwrap(),
                TotpParams {
                    algorithm: *alg,
                    digits: TotpDigits::Eight,
                },
            )
            .unwrap();
            for (time, codes) in &expected {
                assert_eq!(totp.generate(*time), codes[i], "{alg} at {time}");
            }
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_no_further() {
        let totp = demo();
        let now = 1_700_000_015;
        let step = Totp::step_at(now);
        for offset in [-1i64, 0, 1] {
            let at = (now as i64 + offset * 30) as u64;
            assert_eq!(
                totp.verify(&totp.generate(at), now, None),
                Some(Totp::step_at(at))
            );
        }
        for offset in [-2i64, 2] {
            let at = (now as i64 + offset * 30) as u64;
            assert_eq!(
                totp.verify(&totp.generate(at), now, None),
                None,
                "offset {offset}"
            );
        }
        assert_eq!(totp.verify(&totp.generate(now), now, None), Some(step));
    }

    #[test]
    fn a_code_is_accepted_once_and_older_steps_never_after() {
        let totp = demo();
        let now = 1_700_000_000;
        let code = totp.generate(now);
        let accepted = totp.verify(&code, now, None).unwrap();
        // Replay of the same code, even ten seconds later: refused.
        assert_eq!(totp.verify(&code, now + 10, Some(accepted)), None);
        // The previous step's code is still inside the window but older than the accepted one.
        assert_eq!(totp.verify(&totp.generate(now - 30), now, Some(accepted)), None);
        // The next step's code is fine.
        assert_eq!(
            totp.verify(&totp.generate(now + 30), now + 30, Some(accepted)),
            Some(accepted + 1)
        );
    }

    #[test]
    fn malformed_codes_never_match() {
        let totp = demo();
        let now = 1_700_000_000;
        let code = totp.generate(now);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(totp.verify(&spaced, now, None).is_some());
        for bad in ["", "12345", "1234567", "abcdef", "+12345", "١٢٣٤٥٦"] {
            assert_eq!(totp.verify(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_parse_generate_and_refuse_bad_input() {
        let s = TotpSecret::from_base32(DEMO).unwrap();
        assert_eq!(s.bits(), 160);
        assert_eq!(s.to_base32(), DEMO);
        let lower = TotpSecret::from_base32("gatehouse demo alice totp secret 2345").unwrap();
        assert_eq!(lower, s);
        assert_eq!(TotpSecret::generate().bits(), 160);
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
        assert_eq!(
            TotpSecret::from_base32("not base32!").unwrap_err(),
            CryptoError::TotpSecretEncoding
        );
        assert_eq!(
            TotpSecret::from_base32("").unwrap_err(),
            CryptoError::TotpSecretEncoding
        );
        assert_eq!(
            TotpSecret::from_base32("JBSWY3DP").unwrap_err(),
            CryptoError::TotpSecretTooShort { bits: 40, min: 80 }
        );
        // An 80-bit import is allowed (non-compliant builder) and works.
        let short = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(short.bits(), 80);
        let totp = Totp::new(&short, TotpParams::default()).unwrap();
        assert!(totp.verify(&totp.generate(100), 100, None).is_some());
        assert!(format!("{s:?}").contains("160 bits"));
        assert!(!format!("{s:?}").contains(DEMO));
    }

    #[test]
    fn otpauth_uri_carries_parameters() {
        let uri = demo().otpauth_uri("Gatehouse", "alice").unwrap();
        assert_eq!(
            uri,
            format!("otpauth://totp/Gatehouse:alice?secret={DEMO}&issuer=Gatehouse")
        );
        let sha256 = Totp::new(
            &TotpSecret::from_base32(DEMO).unwrap(),
            TotpParams {
                algorithm: TotpAlgorithm::Sha256,
                digits: TotpDigits::Eight,
            },
        )
        .unwrap();
        let uri = sha256.otpauth_uri("Acme Corp", "alice@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Acme%20Corp:alice%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains("digits=8") && uri.contains("algorithm=SHA256"),
            "{uri}"
        );
        assert!(matches!(
            demo().otpauth_uri("Gate:house", "alice"),
            Err(CryptoError::TotpLabel(_))
        ));
        assert!(matches!(
            demo().otpauth_uri("Gatehouse", ""),
            Err(CryptoError::TotpLabel(_))
        ));
    }

    #[test]
    fn parameters_parse() {
        assert_eq!("sha-256".parse::<TotpAlgorithm>().unwrap(), TotpAlgorithm::Sha256);
        assert_eq!("SHA1".parse::<TotpAlgorithm>().unwrap(), TotpAlgorithm::Sha1);
        assert!("MD5".parse::<TotpAlgorithm>().is_err());
        assert_eq!(TotpDigits::from_count(8).unwrap(), TotpDigits::Eight);
        assert!(TotpDigits::from_count(7).is_err());
    }
}
