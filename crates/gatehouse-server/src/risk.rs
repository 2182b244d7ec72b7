//! Risk at sign-in and after it (DESIGN section 9, docs/risk.md): gathers the facts the pure
//! scorer (`gatehouse_core::risk`) needs — what this user's sign-in history says about this browser
//! and network, recent failures, the zones' blocked ranges, an administrator's verdict — and
//! remembers where each user signed in from. Browsers are told apart by the `gh_device` cookie, a
//! random token set on the first visit and kept for a year; only its SHA-256 is stored.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_core::model::User;
use gatehouse_core::risk::{RiskAssessment, RiskFacts, RiskSettings, Travel, assess as score};
use gatehouse_policy::{NetworkZone, RiskLevel};
use gatehouse_store::{ContextKind, Read, Tx};
use jiff::{SignedDuration, Timestamp};

use crate::{AppState, ServerError};

/// The browser cookie that tells browsers apart.
pub const DEVICE_COOKIE: &str = "gh_device";
const DEVICE_COOKIE_DAYS: i64 = 365;

/// How precisely a place's last sign-in is kept: a place seen again within this time is not
/// written again (risk counts places seen within days, so an hour changes no verdict; a user
/// signing in all day from one office writes its row once an hour, not at every sign-in).
const SEEN_PRECISION: Duration = Duration::from_secs(3600);

/// How risk is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskConfig {
    pub settings: RiskSettings,
    /// How far back a browser, network or zone counts as known (DESIGN: 90 days).
    pub lookback: Duration,
    /// The window of the failure-velocity signals.
    pub velocity_window: Duration,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            settings: RiskSettings::default(),
            lookback: Duration::from_secs(90 * 24 * 3600),
            velocity_window: Duration::from_secs(15 * 60),
        }
    }
}

/// Recent failed attempts per address, in memory (per node, like the rate limits).
#[derive(Debug, Default)]
pub struct FailureWindow {
    recent: Mutex<HashMap<IpAddr, VecDeque<Timestamp>>>,
}

/// Addresses tracked at most; the oldest entries go first beyond it.
const MAX_TRACKED: usize = 100_000;

impl FailureWindow {
    pub fn record(&self, ip: IpAddr, now: Timestamp, window: Duration) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        if recent.len() >= MAX_TRACKED {
            let horizon = since(now, window);
            recent.retain(|_, times| times.back().is_some_and(|t| *t >= horizon));
        }
        let times = recent.entry(ip).or_default();
        times.push_back(now);
        prune(times, since(now, window));
    }

    pub fn count(&self, ip: IpAddr, now: Timestamp, window: Duration) -> u32 {
        let Ok(mut recent) = self.recent.lock() else {
            return 0;
        };
        recent.get_mut(&ip).map_or(0, |times| {
            prune(times, since(now, window));
            u32::try_from(times.len()).unwrap_or(u32::MAX)
        })
    }
}

fn prune(times: &mut VecDeque<Timestamp>, horizon: Timestamp) {
    while times.front().is_some_and(|t| *t < horizon) {
        times.pop_front();
    }
}

pub(crate) fn since(now: Timestamp, window: Duration) -> Timestamp {
    let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
    now.checked_sub(window).unwrap_or(Timestamp::MIN)
}

/// The request's browser token (the `gh_device` cookie), if it sent one.
pub fn browser_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == DEVICE_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The browser of a request as the flow stores it (its token's key, `handle`), and the
/// `Set-Cookie` to send when the browser had no token yet.
pub fn browser_of(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = browser_token(headers) {
        return (crate::handle::key(&token), None);
    }
    let (token, key) = crate::handle::new();
    let mut cookie = format!(
        "{DEVICE_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        DEVICE_COOKIE_DAYS * 24 * 3600
    );
    if state.issuer().is_https() {
        cookie.push_str("; Secure");
    }
    (key, HeaderValue::from_str(&cookie).ok())
}

/// The /24 (IPv4) or /48 (IPv6) an address is in, as text.
pub fn network_of(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let [a, b, c] = [s.first(), s.get(1), s.get(2)].map(|x| x.copied().unwrap_or(0));
            format!("{a:x}:{b:x}:{c:x}::/48")
        }
    }
}

/// The zones an address is in (their allowed ranges, not blocked ones).
fn zones_of(zones: &[NetworkZone], ip: IpAddr) -> Vec<String> {
    zones
        .iter()
        .filter(|z| z.cidrs.iter().any(|c| c.contains(ip)) && !z.blocked_cidrs.iter().any(|c| c.contains(ip)))
        .map(|z| z.name.clone())
        .collect()
}

/// The zone whose blocked ranges hold the address.
fn blocked_zone(zones: &[NetworkZone], ip: IpAddr) -> Option<String> {
    zones
        .iter()
        .find(|z| z.blocked_cidrs.iter().any(|c| c.contains(ip)))
        .map(|z| z.name.clone())
}

/// Scores a sign-in (or a token refresh, with no browser) of `user` from `ip`, reading in the
/// caller's snapshot.
pub async fn assess(
    store: &mut Read,
    state: &AppState,
    user: &User,
    ip: IpAddr,
    browser: Option<&str>,
    now: Timestamp,
) -> Result<RiskAssessment, ServerError> {
    let config = state.config().risk;
    let policies = state.policies().await?;
    let zones = &policies.document().network_zones;
    let known_since = since(now, config.lookback);
    let network = network_of(ip);
    let here = zones_of(zones, ip);
    let places = store
        .sign_in_contexts()
        .places(user.id, browser, &network)
        .await?;
    let recent = |at: Option<Timestamp>| at.is_some_and(|at| at >= known_since);
    let new_device = browser.map(|_| !recent(places.device_seen_at));
    let known_network = recent(places.network_seen_at)
        || places
            .zones
            .iter()
            .any(|(zone, at)| *at >= known_since && here.contains(zone));
    let velocity_since = since(now, config.velocity_window);
    let user_failures = store
        .sign_in_failures()
        .get(user.id)
        .await?
        .filter(|(_, last)| *last >= velocity_since)
        .map_or(0, |(n, _)| u32::try_from(n).unwrap_or(u32::MAX));
    let admin = store
        .user_risks()
        .get(user.id)
        .await?
        .filter(|r| r.expires_at > now)
        .and_then(|r| parse_level(&r.level).map(|level| (level, r.reason)));
    let facts = RiskFacts {
        new_device,
        new_network: !known_network,
        blocked_zone: blocked_zone(zones, ip),
        user_failures,
        ip_failures: state.flow().failures.count(ip, now, config.velocity_window),
        admin,
        travel: travel(zones, &here, &places.zones, now),
    };
    Ok(score(&facts, &config.settings))
}

/// The move from the located zone of the user's last sign-in (`seen`: the user's zones, most
/// recent first) to the located zone of this one (`here`: the zones the address is in).
fn travel(
    zones: &[NetworkZone],
    here: &[String],
    seen: &[(String, Timestamp)],
    now: Timestamp,
) -> Option<Travel> {
    let located = |name: &str| {
        zones
            .iter()
            .find(|z| z.name == name)
            .and_then(|z| z.location.map(|l| (z.name.clone(), l)))
    };
    let (to_zone, here) = here.iter().find_map(|name| located(name))?;
    let (from_zone, there, at) = seen
        .iter()
        .find_map(|(name, at)| located(name).map(|(n, l)| (n, l, *at)))?;
    if from_zone == to_zone {
        return None;
    }
    let minutes = (now.as_second() - at.as_second()).max(0) / 60;
    Some(Travel {
        from_zone,
        to_zone,
        km: here.distance_km(there).round() as u32,
        minutes: u32::try_from(minutes).unwrap_or(u32::MAX),
    })
}

/// Remembers that `user` signed in from this browser, network and zones (in the sign-in's
/// transaction; `zones` are the policy document's).
pub async fn remember(
    tx: &mut Tx,
    user: &User,
    ip: IpAddr,
    browser: Option<&str>,
    zones: &[NetworkZone],
    now: Timestamp,
) -> Result<(), ServerError> {
    let network = network_of(ip);
    let here = zones_of(zones, ip);
    let mut places: Vec<(ContextKind, &str)> = Vec::with_capacity(here.len() + 2);
    if let Some(b) = browser {
        places.push((ContextKind::Device, b));
    }
    places.push((ContextKind::Network, &network));
    places.extend(here.iter().map(|zone| (ContextKind::Zone, zone.as_str())));
    tx.sign_in_contexts()
        .touch_all(user.id, &places, now, since(now, SEEN_PRECISION))
        .await?;
    Ok(())
}

pub fn parse_level(text: &str) -> Option<RiskLevel> {
    match text {
        "low" => Some(RiskLevel::Low),
        "medium" => Some(RiskLevel::Medium),
        "high" => Some(RiskLevel::High),
        _ => None,
    }
}

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the right-most
/// address of `X-Forwarded-For` that is not a trusted proxy itself.
pub fn client_ip(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = &state.config().trusted_proxies;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if trusted.is_empty() || !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    hops.into_iter().rev().find(|ip| !is_trusted(*ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_the_24_or_48_around_the_address() {
        assert_eq!(network_of("10.1.2.3".parse().unwrap()), "10.1.2.0/24");
        assert_eq!(network_of("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.0/24");
        assert_eq!(network_of("2001:db8:1:2::7".parse().unwrap()), "2001:db8:1::/48");
    }

    #[test]
    fn failures_count_within_the_window_only() {
        let w = FailureWindow::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
        let window = Duration::from_secs(60);
        w.record(ip, t(0), window);
        w.record(ip, t(30), window);
        assert_eq!(w.count(ip, t(40), window), 2);
        assert_eq!(w.count(ip, t(75), window), 1, "the first fell out of the window");
        assert_eq!(w.count("192.0.2.2".parse().unwrap(), t(40), window), 0);
    }
}
