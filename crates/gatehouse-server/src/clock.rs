//! The server's clock: the system clock in production, a clock tests set and move, so nothing
//! time-dependent needs a sleep in a test.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;

/// Where "now" comes from. Cheap to clone; clones of a manual clock share its time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A time in Unix milliseconds that only moves when told to.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: Timestamp) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(start.as_millisecond())))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Self::System => Timestamp::now(),
            Self::Manual(ms) => {
                Timestamp::from_millisecond(ms.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
            }
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(ms) = self {
            let delta = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            ms.fetch_add(delta, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), Timestamp::from_second(1_800_000_090).unwrap());
        assert!(
            Clock::System.now()
                > start
                    .checked_sub(jiff::SignedDuration::from_hours(24 * 365 * 5))
                    .unwrap()
        );
    }
}
