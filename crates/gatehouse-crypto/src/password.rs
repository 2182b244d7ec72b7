//! User passwords: argon2id in PHC strings.
//!
//! Hashing is deliberately slow (OWASP's defaults: 19 MiB, two passes, one lane, tens of
//! milliseconds). Callers run it off the async threads with a bound on how many run at once.
//! [`PasswordHasher::verify_unknown`] spends the same time for a login that does not exist, so the
//! answer's timing does not reveal which logins exist.
//!
//! Memory: argon2 fills `m` KiB of working memory per hash. The library allocates and frees it on
//! every call, and glibc's allocator, once it has seen a block that size freed, serves the next
//! ones from its heaps and keeps them: under load a process grew by one such block per thread
//! that ever hashed. Here each thread keeps one buffer (the largest it needed) and reuses it, so
//! the memory is bounded by the number of hashing threads, which the server fixes.

use std::cell::RefCell;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

use crate::CryptoError;

thread_local! {
    /// This thread's argon2 working memory, grown to the largest cost it has hashed with.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` with this thread's reusable working memory.
fn compute(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    let needed = argon.params().block_count();
    MEMORY.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        // Every block is written before it is read (the first pass overwrites), so reusing the
        // previous hash's memory is safe.
        let memory = blocks.get_mut(..needed).ok_or(argon2::Error::MemoryTooLittle)?;
        argon.hash_password_into_with_memory(password, salt, out, memory)
    })
}

/// Frees this thread's argon2 working memory (it is allocated again by the next hash here).
pub fn release_memory() {
    MEMORY.with_borrow_mut(|blocks| *blocks = Vec::new());
}

/// The length of an argon2 output we produce and accept (the PHC default).
const OUTPUT_LEN: usize = 32;

/// argon2id cost parameters. The default is OWASP's recommendation (m=19456 KiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordParams {
    /// The work of one hash, in KiB of memory filled per pass times passes and lanes: about
    /// half a millisecond per 1,024 on a current core (OWASP's default is 38,912).
    pub fn work(&self) -> u64 {
        u64::from(self.memory_kib) * u64::from(self.iterations) * u64::from(self.parallelism)
    }

    /// The parameters a PHC string was hashed with (`None` when it is not one we could verify).
    pub fn of_phc(phc: &str) -> Option<Self> {
        let hash = PasswordHash::new(phc).ok()?;
        let params = Params::try_from(&hash).ok()?;
        Some(Self {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        })
    }
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
        // Whichever thread builds the hasher need not keep the working memory of that one hash.
        release_memory();
        Ok(hasher)
    }

    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// Hashes a password with a fresh random salt into a PHC string (`$argon2id$v=19$m=…`).
    pub fn hash(&self, password: &str) -> Result<String, CryptoError> {
        let salt = crate::random::bytes::<16>();
        let mut out = [0u8; OUTPUT_LEN];
        compute(&self.argon, password.as_bytes(), &salt, &mut out)
            .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
        let p = &self.params;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            p.memory_kib,
            p.iterations,
            p.parallelism,
            b64(&salt),
            b64(&out)
        ))
    }

    /// Whether `password` matches the PHC string `phc` (whatever parameters it was hashed with).
    /// A malformed stored hash never matches.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
            return false;
        };
        let version = match hash.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        compute(&argon, password.as_bytes(), salt.as_ref(), &mut out).is_ok()
            && crate::compare::constant_time_eq(&out, expected.as_ref())
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

/// Unpadded standard base64, as PHC strings spell salts and hashes.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
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
    fn hashes_are_standard_phc_strings() {
        // A hash made here verifies with the library's own verifier, and the reverse.
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = fast();
        let ours = h.hash("pw").unwrap();
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        assert!(argon.verify_password(b"pw", ours.as_str()).is_ok());
        let theirs = argon
            .hash_password_with_salt(b"pw", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert!(h.verify("pw", &theirs));
        assert!(!h.verify("pW", &theirs));
        // A bigger cost after a smaller one on the same thread reuses and grows the memory.
        let big = PasswordHasher::new(PasswordParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let phc = big.hash("pw").unwrap();
        assert!(h.verify("pw", &phc) && big.verify("pw", &ours));
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
    fn a_hash_tells_its_parameters_and_their_work() {
        let phc = fast().hash("pw").unwrap();
        let p = PasswordParams::of_phc(&phc).unwrap();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (64, 1, 1));
        assert_eq!(p.work(), 64);
        assert_eq!(PasswordParams::default().work(), 38_912);
        assert_eq!(PasswordParams::of_phc("not a hash"), None);
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
