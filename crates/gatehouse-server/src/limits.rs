//! Rate limits at the edge of sign-in (issue 8): per client IP and per typed login on the steps
//! that check something a person typed (identify, password, one-time codes). Over the limit a
//! step answers `429` with `Retry-After`, whatever the login — an unknown login is limited exactly
//! like a known one, so the limiter reveals nothing.
//!
//! The counters are in memory (GCRA, `governor`), per node: with several nodes behind a load
//! balancer the effective limit is at most `nodes ×` the configured one. Lockout (consecutive
//! failures per user, in the database) is the cluster-wide control; these limits bound the rate.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The configured limits; `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sign-in steps per minute from one IP address (IPv6: one /64).
    pub per_ip_per_minute: u32,
    /// Sign-in steps per minute naming one login (as typed, case-folded).
    pub per_login_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 600,
            per_login_per_minute: 120,
        }
    }
}

/// A refused step: when it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// The limiters.
pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_login: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("per_ip", &self.per_ip.is_some())
            .field("per_login", &self.per_login.is_some())
            .finish_non_exhaustive()
    }
}

/// Every this many checks, keys whose allowance is full again are dropped.
const PRUNE_EVERY: u32 = 4096;

fn quota(per_minute: u32) -> Option<Quota> {
    // A burst of half the minute's allowance, refilled evenly over the minute.
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new((per_minute / 2).max(1))?;
    Some(Quota::per_minute(rate).allow_burst(burst))
}

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            per_ip: quota(config.per_ip_per_minute).map(RateLimiter::keyed),
            per_login: quota(config.per_login_per_minute).map(RateLimiter::keyed),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Counts one sign-in step from `ip` naming `login` (when the step names one); refuses it
    /// when either limit is spent.
    pub fn check(&self, ip: IpAddr, login: Option<&str>) -> Result<(), Limited> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        if let Some(limiter) = &self.per_ip
            && let Err(not_until) = limiter.check_key(&ip_key(ip))
        {
            return Err(Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            });
        }
        if let (Some(limiter), Some(login)) = (&self.per_login, login) {
            let key = login.trim().to_lowercase();
            if let Err(not_until) = limiter.check_key(&key) {
                return Err(Limited {
                    retry_after: not_until.wait_time_from(self.clock.now()),
                });
            }
        }
        Ok(())
    }

    fn prune(&self) {
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_login {
            limiter.retain_recent();
        }
    }
}

/// IPv4 addresses as they are; IPv6 addresses by their /64 (one host usually holds a whole /64).
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_per_login_limit_is_refused_with_a_wait() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip_per_minute: 0,
            per_login_per_minute: 4,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..2 {
            assert!(limits.check(ip, Some("Alice")).is_ok());
        }
        let refused = limits.check(ip, Some(" alice ")).unwrap_err();
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_secs(15));
        // Another login is not affected; steps without a login are not counted per login.
        assert!(limits.check(ip, Some("bob")).is_ok());
        assert!(limits.check(ip, None).is_ok());
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_a_limit() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip_per_minute: 2,
            per_login_per_minute: 0,
        });
        assert!(limits.check("2001:db8::1".parse().unwrap(), None).is_ok());
        assert!(limits.check("2001:db8::2:3".parse().unwrap(), None).is_err());
        assert!(limits.check("2001:db8:0:1::1".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn zero_turns_the_limits_off() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip_per_minute: 0,
            per_login_per_minute: 0,
        });
        for _ in 0..1000 {
            assert!(limits.check("10.0.0.1".parse().unwrap(), Some("alice")).is_ok());
        }
    }
}
