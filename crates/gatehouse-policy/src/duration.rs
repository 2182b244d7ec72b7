//! `PolicyDuration`: an ISO-8601 duration as policies write it (`PT4H`, `P1D`), parsed once.
//!
//! Days are 24 hours and weeks 7 days; months and years are refused because their length depends
//! on the calendar, and a reauthentication window must not. Zero and negative durations are refused
//! too: "reauthenticate every time" is written `every_sign_in`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::{SignedDuration, Span, SpanRelativeTo};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PolicyError;

/// A positive ISO-8601 duration without months or years. Built only by [`PolicyDuration::parse`]
/// (or [`PolicyDuration::from_duration`]); displays in its canonical ISO-8601 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyDuration(Duration);

/// The phrase every duration error ends with, so messages read the same everywhere.
pub(crate) const EXPECTED_DURATION: &str = "expected an ISO-8601 duration such as PT4H";

impl PolicyDuration {
    /// Parses `PT4H`, `P1D`, `PT90M`, `P1DT12H`, `P2W`. Refuses months, years, zero and negative
    /// durations, and anything that is not ISO-8601 (`4 hours`).
    pub fn parse(input: &str) -> Result<Self, PolicyError> {
        let invalid = |reason: &str| PolicyError::Duration {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        if !(trimmed.starts_with('P') || trimmed.starts_with('p')) {
            return Err(invalid(EXPECTED_DURATION));
        }
        let span: Span = trimmed.parse().map_err(|_| invalid(EXPECTED_DURATION))?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(invalid(
                "months and years are not allowed (their length varies); use days, such as P30D",
            ));
        }
        let signed: SignedDuration = span
            .to_duration(SpanRelativeTo::days_are_24_hours())
            .map_err(|_| invalid(EXPECTED_DURATION))?;
        if signed.is_negative() || signed.is_zero() {
            return Err(invalid(
                "a duration must be longer than zero; write `every_sign_in` to ask every time",
            ));
        }
        let duration = Duration::try_from(signed).map_err(|_| invalid(EXPECTED_DURATION))?;
        Ok(Self(duration))
    }

    /// Wraps a positive `Duration` (sub-second parts are kept).
    pub fn from_duration(duration: Duration) -> Result<Self, PolicyError> {
        if duration.is_zero() {
            return Err(PolicyError::Duration {
                input: "PT0S".to_owned(),
                reason: "a duration must be longer than zero".to_owned(),
            });
        }
        Ok(Self(duration))
    }

    /// A constant duration in whole seconds.
    // INVARIANT: callers pass a non-zero constant, so the value is positive as `parse` guarantees.
    pub(crate) const fn from_secs_nonzero(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    /// The duration as jiff's signed duration (saturating at the maximum).
    pub fn as_signed(self) -> SignedDuration {
        SignedDuration::try_from(self.0).unwrap_or(SignedDuration::MAX)
    }
}

impl fmt::Display for PolicyDuration {
    /// Canonical form: the largest whole units first, days as `D` (never months), e.g. `P1D`,
    /// `PT4H`, `P1DT2H30M`, `PT0.5S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        let days = total / 86_400;
        let hours = (total % 86_400) / 3_600;
        let minutes = (total % 3_600) / 60;
        let seconds = total % 60;
        f.write_str("P")?;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if hours > 0 || minutes > 0 || seconds > 0 || nanos > 0 {
            f.write_str("T")?;
            if hours > 0 {
                write!(f, "{hours}H")?;
            }
            if minutes > 0 {
                write!(f, "{minutes}M")?;
            }
            if nanos > 0 {
                let frac = format!("{nanos:09}");
                write!(f, "{seconds}.{}S", frac.trim_end_matches('0'))?;
            } else if seconds > 0 {
                write!(f, "{seconds}S")?;
            }
        }
        Ok(())
    }
}

impl FromStr for PolicyDuration {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PolicyDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PolicyDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::model::deserialize_parsed(deserializer, Self::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hours_days_and_weeks() {
        assert_eq!(
            PolicyDuration::parse("PT4H").unwrap().as_duration(),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(
            PolicyDuration::parse("P1D").unwrap().as_duration(),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            PolicyDuration::parse("P2W").unwrap().as_duration(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            PolicyDuration::parse("P1DT2H30M").unwrap().as_duration(),
            Duration::from_secs(86_400 + 2 * 3600 + 1800)
        );
    }

    #[test]
    fn refuses_months_years_zero_and_prose() {
        for bad in ["P1M", "P1Y", "PT0S", "4 hours", "", "-PT1H", "PT"] {
            let err = PolicyDuration::parse(bad).unwrap_err();
            assert!(matches!(err, PolicyError::Duration { .. }), "{bad}: {err}");
        }
        let err = PolicyDuration::parse("4 hours").unwrap_err().to_string();
        assert!(
            err.contains("expected an ISO-8601 duration such as PT4H"),
            "{err}"
        );
    }

    #[test]
    fn displays_canonically() {
        for (input, shown) in [
            ("PT4H", "PT4H"),
            ("P1D", "P1D"),
            ("PT24H", "P1D"),
            ("PT90M", "PT1H30M"),
            ("P1W", "P7D"),
        ] {
            assert_eq!(PolicyDuration::parse(input).unwrap().to_string(), shown);
        }
    }
}
