//! Network zones: `/api/v1/zones`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A network zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Zone {
    pub id: String,
    #[schema(example = "corp")]
    pub name: String,
    /// Normalised CIDRs (`10.0.0.0/8`, `2001:db8::/32`).
    pub cidrs: Vec<String>,
    /// Ranges carved out of the zone.
    pub blocked_cidrs: Vec<String>,
    /// Where the zone is, for the impossible-travel risk signal.
    pub location: Option<ZoneLocation>,
    pub created_at: String,
    pub updated_at: String,
}

/// Every zone, in name order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneList {
    pub items: Vec<Zone>,
}

/// `POST /api/v1/zones`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateZone {
    pub name: String,
    /// CIDRs or single addresses; host bits must be clear.
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub blocked_cidrs: Vec<String>,
    #[serde(default)]
    pub location: Option<ZoneLocation>,
}

/// `PATCH /api/v1/zones/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateZone {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cidrs: Option<Vec<String>>,
    #[serde(default)]
    pub blocked_cidrs: Option<Vec<String>>,
    /// `null` removes the location.
    #[serde(default, with = "crate::admin::apps::double_option")]
    #[schema(value_type = Option<ZoneLocation>)]
    pub location: Option<Option<ZoneLocation>>,
}

/// Degrees: latitude −90..90, longitude −180..180.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneLocation {
    pub latitude: f64,
    pub longitude: f64,
}
