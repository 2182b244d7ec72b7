//! Network addresses for zones: [`Cidr`] (parsed and normalised once) and [`ZoneRanges`], the
//! compiled form a zone takes for matching a client address.
//!
//! Choices (also in `docs/policy-language.md`): a CIDR with host bits set (`10.1.2.3/8`) is
//! refused, with the network it probably meant in the message, because silently trimming it would
//! widen or move the zone the administrator wrote; a bare address is a single-host CIDR
//! (`/32`, `/128`); an IPv4-mapped IPv6 CIDR (`::ffff:10.0.0.0/104`) becomes its IPv4 form; and a
//! client address is canonicalised (`::ffff:10.1.2.3` is `10.1.2.3`) before it is matched.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PolicyError;

/// A normalised IPv4 or IPv6 network: no host bits, IPv4-mapped IPv6 ranges in IPv4 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host). Refuses host bits.
    pub fn parse(input: &str) -> Result<Self, PolicyError> {
        let text = input.trim();
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => match text.parse::<IpAddr>() {
                Ok(addr) => IpNet::from(addr),
                Err(_) => {
                    return Err(PolicyError::Cidr {
                        input: input.to_owned(),
                        reason: "expected an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or 2001:db8::/32"
                            .to_owned(),
                    });
                }
            },
        };
        if net.trunc() != net {
            return Err(PolicyError::Cidr {
                input: input.to_owned(),
                reason: format!("host bits are set (did you mean `{}`?)", net.trunc()),
            });
        }
        Ok(Self(canonical_net(net)))
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    /// Whether the (canonicalised) address is inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr.to_canonical())
    }

    /// Whether every address of `other` is inside this network.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.0.contains(&other.0)
    }
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) is the IPv4 network `a.b.c.d/(n-96)`.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(v4net) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net);
    }
    net
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Cidr {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::model::deserialize_parsed(deserializer, Self::parse)
    }
}

/// A zone's networks in matching form: an address is in the zone when it is inside one of
/// `include` and inside none of `blocked`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneRanges {
    include: Vec<Cidr>,
    blocked: Vec<Cidr>,
}

impl ZoneRanges {
    pub fn new(include: &[Cidr], blocked: &[Cidr]) -> Self {
        Self {
            include: include.to_vec(),
            blocked: blocked.to_vec(),
        }
    }

    /// Whether `addr` (canonicalised first) is in the zone.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.include.iter().any(|c| c.0.contains(&addr)) && !self.blocked.iter().any(|c| c.0.contains(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_host_bits_and_names_the_network() {
        let err = Cidr::parse("10.1.2.3/8").unwrap_err().to_string();
        assert!(err.contains("did you mean `10.0.0.0/8`"), "{err}");
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("corp").is_err());
    }

    #[test]
    fn bare_addresses_and_mapped_ranges() {
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(
            Cidr::parse("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(Cidr::parse("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
    }

    #[test]
    fn mapped_client_addresses_match_ipv4_zones() {
        let zone = ZoneRanges::new(
            &[Cidr::parse("10.0.0.0/8").unwrap()],
            &[Cidr::parse("10.9.0.0/16").unwrap()],
        );
        assert!(zone.contains("10.1.2.3".parse().unwrap()));
        assert!(zone.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!zone.contains("10.9.1.1".parse().unwrap()));
        assert!(!zone.contains("11.0.0.1".parse().unwrap()));
    }
}

/// Where a zone is on Earth (for the risk scorer's impossible-travel signal): latitude and
/// longitude in degrees, kept in millionths so zones stay comparable. Written as
/// `{latitude: 48.8566, longitude: 2.3522}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "GeoPointText", into = "GeoPointText")]
pub struct GeoPoint {
    lat_e6: i32,
    lon_e6: i32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoPointText {
    latitude: f64,
    longitude: f64,
}

impl GeoPoint {
    /// A point from degrees: latitude in −90..=90, longitude in −180..=180.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, String> {
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(format!(
                "a location is a latitude in -90..90 and a longitude in -180..180, found {latitude}, {longitude}"
            ));
        }
        Ok(Self {
            lat_e6: (latitude * 1e6).round() as i32,
            lon_e6: (longitude * 1e6).round() as i32,
        })
    }

    pub fn latitude(self) -> f64 {
        f64::from(self.lat_e6) / 1e6
    }

    pub fn longitude(self) -> f64 {
        f64::from(self.lon_e6) / 1e6
    }

    /// The great-circle distance in kilometres (haversine, mean Earth radius).
    pub fn distance_km(self, other: Self) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (la1, la2) = (self.latitude().to_radians(), other.latitude().to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude() - self.longitude()).to_radians();
        let a = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

impl TryFrom<GeoPointText> for GeoPoint {
    type Error = String;

    fn try_from(t: GeoPointText) -> Result<Self, String> {
        Self::new(t.latitude, t.longitude)
    }
}

impl From<GeoPoint> for GeoPointText {
    fn from(p: GeoPoint) -> Self {
        Self {
            latitude: p.latitude(),
            longitude: p.longitude(),
        }
    }
}
