//! User passwords: argon2id in PHC strings.
//!
//! Hashing is deliberately slow (OWASP's defaults: 19 MiB, two passes, one lane, tens of
//! milliseconds). Callers run it off the async threads with a bound on how many run at once.
//! [`PasswordHasher::verify_unknown`] spends the same time for a login that does not exist, so the
//! answer's timing does not reveal which logins exist.

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::CryptoError;

/// argon2id cost parameters. The default is OWASP's recommendation (m=19456 KiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies user passwords with fixed parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    params: PasswordParams,
    /// A hash of a random value, verified against for unknown users to spend equal time.
    dummy: String,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams) -> Result<Self, CryptoError> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| CryptoError::PasswordParams(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut hasher = Self {
            argon,
            params,
            dummy: String::new(),
        };
        hasher.dummy = hasher.hash(&crate::random::token::<16>())?;
        Ok(hasher)
    }

    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// Hashes a password with a fresh random salt into a PHC string (`$argon2id$v=19$m=…`).
    pub fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let salt = crate::random::bytes::<16>();
        self.argon
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CryptoError::PasswordHash(e.to_string()))
    }

    /// Whether `password` matches the PHC string `phc` (whatever parameters it was hashed with).
    /// A malformed stored hash never matches.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        self.argon.verify_password(password.as_bytes(), phc).is_ok()
    }

    /// Spends the time of one verification and answers `false`: for logins that do not exist.
    pub fn verify_unknown(&self, password: &str) -> bool {
        let _ = self.verify(password, &self.dummy);
        false
    }

    /// Whether a stored hash uses other parameters than ours (re-hash it after a successful sign-in).
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let p = &self.params;
        let wanted = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            p.memory_kib, p.iterations, p.parallelism
        );
        !phc.starts_with(&wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let h = fast();
        let phc = h.hash("correct-horse-battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify("correct-horse-battery", &phc));
        assert!(!h.verify("correct-horse-batterY", &phc));
        assert!(!h.verify("correct-horse-battery", "not a hash"));
    }

    #[test]
    fn salts_differ_and_unknown_users_never_verify() {
        let h = fast();
        assert_ne!(h.hash("pw").unwrap(), h.hash("pw").unwrap());
        assert!(!h.verify_unknown("pw"));
    }

    #[test]
    fn default_parameters_are_owasp_and_rehash_is_detected() {
        assert_eq!(
            PasswordParams::default(),
            PasswordParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        let h = fast();
        let phc = h.hash("pw").unwrap();
        assert!(!h.needs_rehash(&phc));
        let owasp = PasswordHasher::new(PasswordParams::default()).unwrap();
        assert!(owasp.needs_rehash(&phc));
        // A hash made with other parameters still verifies.
        assert!(owasp.verify("pw", &phc));
    }

    #[test]
    fn bad_parameters_are_refused() {
        let err = PasswordHasher::new(PasswordParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        });
        assert!(matches!(err, Err(CryptoError::PasswordParams(_))));
    }
}
