//! Password hashing off the async threads: argon2id (OWASP parameters by default) runs on a
//! small pool of dedicated threads, as many as there are cores, fed by one queue. A burst of
//! sign-ins neither stalls the runtime nor holds more than `threads × 19 MiB` of hash memory:
//! with `spawn_blocking` each of the many blocking threads kept its own malloc arena holding a
//! freed 19 MiB block, and peak RSS under load grew with the number of threads, not of hashes.
//! Each pool thread keeps and reuses its argon2 working memory (`gatehouse_crypto::password`), so
//! the hash memory is exactly `threads × m` and is never handed back and forth to the allocator.

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
        let hasher = Arc::clone(&self.hasher);
        self.run(move || hasher.hash(&password).map_err(ServerError::Crypto))
            .await?
    }

    /// Whether `password` matches the PHC string `phc`.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, ServerError> {
        let hasher = Arc::clone(&self.hasher);
        self.run(move || hasher.verify(&password, &phc)).await
    }

    /// Spends the time of one verification and answers `false`: for logins that do not exist.
    pub async fn verify_unknown(&self, password: String) -> Result<bool, ServerError> {
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
