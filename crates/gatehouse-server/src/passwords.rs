//! Password hashing off the async threads: argon2id (OWASP parameters by default) runs on a
//! small pool of dedicated threads, as many as there are cores, fed by one queue. A burst of
//! sign-ins neither stalls the runtime nor holds more than `threads × 19 MiB` of hash memory:
//! with `spawn_blocking` each of the many blocking threads kept its own malloc arena holding a
//! freed 19 MiB block, and peak RSS under load grew with the number of threads, not of hashes.
//! Each pool thread keeps and reuses its argon2 working memory (`gatehouse_crypto::password`), so
//! the hash memory is exactly `threads × m` and is never handed back and forth to the allocator.
//!
//! A hash whose work is at most [`INLINE_WORK`] (tens of microseconds: parameters far below any
//! production setting, as tests and benchmarks of everything-but-the-hash use) runs on the
//! calling thread: handing it to the pool and back would cost more than the hash.

use std::sync::{Arc, Mutex, mpsc};

use gatehouse_crypto::{PasswordHasher, PasswordParams};
use tokio::sync::oneshot;

use crate::error::ServerError;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The shared password hasher.
#[derive(Debug, Clone)]
pub struct Passwords {
    hasher: Arc<PasswordHasher>,
    queue: mpsc::Sender<Job>,
}

/// The most work ([`PasswordParams::work`], KiB × passes × lanes) a hash may take to run on the
/// async thread that asks for it: 64 is about 30 µs, OWASP's default 38,912.
pub const INLINE_WORK: u64 = 64;

/// Whether a hash with `params` runs on the calling thread.
fn inline(params: &PasswordParams) -> bool {
    params.work() <= INLINE_WORK
}

/// Passwords shorter than this are refused.
pub const MIN_LENGTH: usize = 8;
/// Passwords longer than this are refused (hashing cost is bounded anyway; this bounds the input).
pub const MAX_LENGTH: usize = 256;

impl Passwords {
    /// A hasher with `params`, allowing `concurrency` hashes at once (at least one).
    pub fn new(params: PasswordParams, concurrency: usize) -> Result<Self, ServerError> {
        let hasher = PasswordHasher::new(params).map_err(ServerError::Crypto)?;
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..concurrency.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("gatehouse-argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, never while hashing.
                        let job = match jobs.lock() {
                            Ok(jobs) => jobs.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every `Passwords` is gone
                        }
                    }
                })?;
        }
        Ok(Self {
            hasher: Arc::new(hasher),
            queue,
        })
    }

    /// OWASP parameters, one permit per available core.
    pub fn owasp() -> Result<Self, ServerError> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::new(PasswordParams::default(), cores)
    }

    /// Checks a new password's length: 8 to 256 characters. Returns the reason when refused.
    pub fn check_policy(password: &str) -> Result<(), String> {
        let length = password.chars().count();
        if length < MIN_LENGTH {
            return Err(format!("a password needs at least {MIN_LENGTH} characters"));
        }
        if length > MAX_LENGTH {
            return Err(format!("a password may have at most {MAX_LENGTH} characters"));
        }
        Ok(())
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, ServerError> {
        if inline(&self.hasher.params()) {
            return self.hasher.hash(&password).map_err(ServerError::Crypto);
        }
        let hasher = Arc::clone(&self.hasher);
        self.run(move || hasher.hash(&password).map_err(ServerError::Crypto))
            .await?
    }

    /// Whether `password` matches the PHC string `phc` (inline when the parameters it was
    /// hashed with are cheap, or when it is not a hash at all: that answers at once).
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, ServerError> {
        if PasswordParams::of_phc(&phc).is_none_or(|p| inline(&p)) {
            return Ok(self.hasher.verify(&password, &phc));
        }
        let hasher = Arc::clone(&self.hasher);
        self.run(move || hasher.verify(&password, &phc)).await
    }

    /// Spends the time of one verification and answers `false`: for logins that do not exist.
    /// Inline exactly when a verification of a fresh hash would be, so timing tells nothing.
    pub async fn verify_unknown(&self, password: String) -> Result<bool, ServerError> {
        if inline(&self.hasher.params()) {
            return Ok(self.hasher.verify_unknown(&password));
        }
        let hasher = Arc::clone(&self.hasher);
        self.run(move || hasher.verify_unknown(&password)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| ServerError::Shutdown)?;
        answer.await.map_err(|_| ServerError::Shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(memory_kib: u32) -> PasswordParams {
        PasswordParams {
            memory_kib,
            iterations: 1,
            parallelism: 1,
        }
    }

    /// The pool's threads are named `gatehouse-argon2-N`; an inline hash runs on the caller's.
    fn on_pool() -> bool {
        std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("gatehouse-argon2-"))
    }

    #[tokio::test]
    async fn cheap_hashes_run_inline_and_costly_ones_on_the_pool_with_the_same_answers() {
        let cheap = Passwords::new(params(8), 1).unwrap();
        let costly = Passwords::new(params(256), 1).unwrap();
        let cheap_phc = cheap.hash("correct-horse".to_owned()).await.unwrap();
        let costly_phc = costly.hash("correct-horse".to_owned()).await.unwrap();
        // Either hasher verifies either hash, on the path the hash's own parameters choose.
        for p in [&cheap, &costly] {
            assert!(
                p.verify("correct-horse".to_owned(), cheap_phc.clone())
                    .await
                    .unwrap()
            );
            assert!(
                !p.verify("correct-horsE".to_owned(), cheap_phc.clone())
                    .await
                    .unwrap()
            );
            assert!(
                p.verify("correct-horse".to_owned(), costly_phc.clone())
                    .await
                    .unwrap()
            );
            assert!(
                !p.verify("correct-horsE".to_owned(), costly_phc.clone())
                    .await
                    .unwrap()
            );
            assert!(
                !p.verify("correct-horse".to_owned(), "garbage".to_owned())
                    .await
                    .unwrap()
            );
            assert!(!p.verify_unknown("correct-horse".to_owned()).await.unwrap());
        }
        // The first ran here, the second on the pool.
        assert!(inline(&PasswordParams::of_phc(&cheap_phc).unwrap()));
        assert!(!inline(&PasswordParams::of_phc(&costly_phc).unwrap()));
        assert!(!inline(&PasswordParams::default()));
        assert!(costly.run(on_pool).await.unwrap() && !on_pool());
    }
}
