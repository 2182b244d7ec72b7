//! The risk scorer (DESIGN section 9, docs/risk.md): named, explainable signals about one sign-in
//! turned into a level the policy's `risk` condition matches on. Pure: the server gathers the
//! facts (what the user's history says about this browser and network, recent failures, zones,
//! an administrator's verdict) and this decides.
//!
//! Each signal that fires adds its weight; the total against two thresholds gives `low`, `medium`
//! or `high`. Two signals decide alone: an address in a zone's blocked ranges is `high`, and an
//! administrator's unexpired verdict on the user is the level, whatever the rest says (it is how
//! an administrator raises a compromised account or clears a false alarm).

use gatehouse_policy::RiskLevel;
use serde::Serialize;

/// Weights and thresholds. The defaults make a new browser on a new network `medium`, either
/// alone `low`, and a burst of failures `medium` (`high` with anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskSettings {
    pub new_device_weight: u32,
    pub new_network_weight: u32,
    /// Added once the user's recent failed attempts reach `user_failures_at`.
    pub user_failures_weight: u32,
    pub user_failures_at: u32,
    /// Added once the address's recent failed attempts reach `ip_failures_at`.
    pub ip_failures_weight: u32,
    pub ip_failures_at: u32,
    /// Added when the user would have had to travel faster than `max_travel_kmh` between the
    /// located zones of their last sign-in and this one.
    pub impossible_travel_weight: u32,
    pub max_travel_kmh: u32,
    /// A total at or above this is `medium`.
    pub medium_at: u32,
    /// A total at or above this is `high`.
    pub high_at: u32,
}

impl Default for RiskSettings {
    fn default() -> Self {
        Self {
            new_device_weight: 30,
            new_network_weight: 30,
            user_failures_weight: 50,
            user_failures_at: 5,
            ip_failures_weight: 50,
            ip_failures_at: 10,
            impossible_travel_weight: 60,
            max_travel_kmh: 1000,
            medium_at: 50,
            high_at: 80,
        }
    }
}

/// What the server found out about a sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskFacts {
    /// Whether this browser (or device) never signed this user in within the look-back window;
    /// `None` when the request carries nothing that identifies a browser.
    pub new_device: Option<bool>,
    /// Whether the address is outside every network (/24, /48) and zone the user signed in from
    /// within the look-back window.
    pub new_network: bool,
    /// The zone whose blocked ranges hold the address, if any.
    pub blocked_zone: Option<String>,
    /// The user's failed attempts in the velocity window.
    pub user_failures: u32,
    /// Failed attempts from the address in the velocity window, whoever they named.
    pub ip_failures: u32,
    /// An administrator's unexpired verdict: the level and the reason they gave.
    pub admin: Option<(RiskLevel, String)>,
    /// The move since the user's last sign-in from a located zone, when this one is from
    /// another located zone.
    pub travel: Option<Travel>,
}

/// A move between two located zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Travel {
    pub from_zone: String,
    pub to_zone: String,
    pub km: u32,
    /// Minutes between the two sign-ins.
    pub minutes: u32,
}

impl Travel {
    /// The speed the move needs, in km/h (a move within a minute counts as one minute).
    pub fn kmh(&self) -> u32 {
        let minutes = u64::from(self.minutes.max(1));
        u32::try_from(u64::from(self.km) * 60 / minutes).unwrap_or(u32::MAX)
    }
}

/// One signal that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskSignal {
    /// `new_device`, `new_network`, `blocked_zone`, `user_failure_velocity`,
    /// `ip_failure_velocity` or `admin_verdict`.
    pub name: &'static str,
    /// The weight it added (0 for the two that decide alone).
    pub points: u32,
    pub detail: String,
}

/// The level and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub score: u32,
    pub signals: Vec<RiskSignal>,
}

impl RiskAssessment {
    /// No signal: `low`.
    pub fn low() -> Self {
        Self {
            level: RiskLevel::Low,
            score: 0,
            signals: Vec::new(),
        }
    }

    /// The signals' names, for logs and traces.
    pub fn signal_names(&self) -> Vec<&'static str> {
        self.signals.iter().map(|s| s.name).collect()
    }
}

/// Scores one sign-in.
pub fn assess(facts: &RiskFacts, settings: &RiskSettings) -> RiskAssessment {
    let mut signals = Vec::new();
    let mut add = |name, points, detail: String| signals.push(RiskSignal { name, points, detail });
    if facts.new_device == Some(true) {
        add(
            "new_device",
            settings.new_device_weight,
            "this browser never signed this user in".to_owned(),
        );
    }
    if facts.new_network {
        add(
            "new_network",
            settings.new_network_weight,
            "the address is outside every network and zone this user signed in from".to_owned(),
        );
    }
    if facts.user_failures >= settings.user_failures_at {
        add(
            "user_failure_velocity",
            settings.user_failures_weight,
            format!("{} recent failed attempts for this user", facts.user_failures),
        );
    }
    if facts.ip_failures >= settings.ip_failures_at {
        add(
            "ip_failure_velocity",
            settings.ip_failures_weight,
            format!("{} recent failed attempts from this address", facts.ip_failures),
        );
    }
    if let Some(travel) = &facts.travel
        && travel.kmh() > settings.max_travel_kmh
    {
        add(
            "impossible_travel",
            settings.impossible_travel_weight,
            format!(
                "{} km from zone `{}` to zone `{}` in {} minutes ({} km/h)",
                travel.km,
                travel.from_zone,
                travel.to_zone,
                travel.minutes,
                travel.kmh()
            ),
        );
    }
    let score: u32 = signals.iter().map(|s| s.points).sum();
    let mut level = if score >= settings.high_at {
        RiskLevel::High
    } else if score >= settings.medium_at {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    if let Some(zone) = &facts.blocked_zone {
        signals.push(RiskSignal {
            name: "blocked_zone",
            points: 0,
            detail: format!("the address is in the blocked ranges of zone `{zone}`"),
        });
        level = RiskLevel::High;
    }
    if let Some((verdict, reason)) = &facts.admin {
        signals.push(RiskSignal {
            name: "admin_verdict",
            points: 0,
            detail: format!(
                "an administrator set this user's risk to {}: {reason}",
                verdict.as_str()
            ),
        });
        level = *verdict;
    }
    RiskAssessment {
        level,
        score,
        signals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(facts: RiskFacts) -> (RiskLevel, Vec<&'static str>) {
        let a = assess(&facts, &RiskSettings::default());
        (a.level, a.signal_names())
    }

    #[test]
    fn a_known_browser_on_a_known_network_is_low_with_no_signal() {
        assert_eq!(level(RiskFacts::default()), (RiskLevel::Low, vec![]));
    }

    #[test]
    fn a_new_browser_or_network_alone_is_low_both_are_medium() {
        let device = RiskFacts {
            new_device: Some(true),
            ..RiskFacts::default()
        };
        assert_eq!(level(device.clone()), (RiskLevel::Low, vec!["new_device"]));
        let network = RiskFacts {
            new_network: true,
            ..RiskFacts::default()
        };
        assert_eq!(level(network), (RiskLevel::Low, vec!["new_network"]));
        let both = RiskFacts {
            new_network: true,
            ..device
        };
        assert_eq!(
            level(both),
            (RiskLevel::Medium, vec!["new_device", "new_network"])
        );
    }

    #[test]
    fn failure_bursts_raise_the_level() {
        let burst = RiskFacts {
            user_failures: 5,
            ..RiskFacts::default()
        };
        assert_eq!(
            level(burst.clone()),
            (RiskLevel::Medium, vec!["user_failure_velocity"])
        );
        let below = RiskFacts {
            user_failures: 4,
            ip_failures: 9,
            ..RiskFacts::default()
        };
        assert_eq!(level(below).0, RiskLevel::Low, "under both thresholds");
        let both = RiskFacts {
            ip_failures: 10,
            ..burst
        };
        assert_eq!(level(both).0, RiskLevel::High);
    }

    #[test]
    fn a_blocked_zone_is_high_and_an_admin_verdict_decides() {
        let blocked = RiskFacts {
            blocked_zone: Some("tor-exits".into()),
            ..RiskFacts::default()
        };
        assert_eq!(level(blocked.clone()), (RiskLevel::High, vec!["blocked_zone"]));
        let cleared = RiskFacts {
            admin: Some((RiskLevel::Low, "known traveller".into())),
            new_device: Some(true),
            new_network: true,
            ..RiskFacts::default()
        };
        assert_eq!(
            level(cleared),
            (RiskLevel::Low, vec!["new_device", "new_network", "admin_verdict"])
        );
        let raised = RiskFacts {
            admin: Some((RiskLevel::High, "credentials leaked".into())),
            ..RiskFacts::default()
        };
        let a = assess(&raised, &RiskSettings::default());
        assert_eq!(a.level, RiskLevel::High);
        assert!(a.signals[0].detail.contains("credentials leaked"));
    }

    #[test]
    fn a_move_faster_than_an_airliner_is_impossible_travel() {
        let travel = |km, minutes| RiskFacts {
            travel: Some(Travel {
                from_zone: "paris".into(),
                to_zone: "sydney".into(),
                km,
                minutes,
            }),
            ..RiskFacts::default()
        };
        assert_eq!(
            level(travel(16_960, 60)),
            (RiskLevel::Medium, vec!["impossible_travel"])
        );
        assert_eq!(
            level(travel(16_960, 24 * 60)),
            (RiskLevel::Low, vec![]),
            "a day later: a flight"
        );
        assert_eq!(level(travel(0, 0)).0, RiskLevel::Low);
    }

    #[test]
    fn weights_and_thresholds_are_settings() {
        let strict = RiskSettings {
            medium_at: 30,
            high_at: 60,
            ..RiskSettings::default()
        };
        let facts = RiskFacts {
            new_device: Some(true),
            new_network: true,
            ..RiskFacts::default()
        };
        assert_eq!(assess(&facts, &strict).level, RiskLevel::High);
        assert_eq!(assess(&facts, &strict).score, 60);
    }
}
