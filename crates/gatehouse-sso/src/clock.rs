//! The gateway's clock, injected so tests control time instead of sleeping.
//!
//! Everything time-dependent — login-state expiry, ID-token `exp`/`iat` checks, session expiry,
//! provisioning backoff — reads [`Clock::now`]; nothing else in the crate calls the system clock.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The real clock moved forward by an adjustable amount (for tests that talk to other real
/// servers: time keeps running, and the test can jump ahead).
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock {
    shift: Arc<Mutex<Duration>>,
}

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut shift) = self.shift.lock() {
            *shift += by;
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let shift = self
            .shift
            .lock()
            .map(|s| *s)
            .unwrap_or_else(|poisoned| *poisoned.into_inner());
        OffsetDateTime::now_utc() + shift
    }
}

/// Seconds since the Unix epoch, as stored in the database.
pub fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// The RFC 3339 form of a stored Unix time, for API responses.
pub fn rfc3339(unix_seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix_seconds.to_string())
}
