//! Network zones (`network_zones`): address ranges as JSON arrays of CIDR text, normalised
//! before they are stored.

use gatehouse_core::model::{NetworkZone, ZoneId, ZoneName};

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The network zones repository. Zones are few: lists are not paged.
#[derive(Debug)]
pub struct Zones<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, name, cidrs, blocked_cidrs, location, created_at, updated_at FROM network_zones"
    };
}

fn zone_from_row(row: &Row) -> Result<NetworkZone, StoreError> {
    Ok(NetworkZone {
        id: row.parse("id", ZoneId::parse)?,
        name: row.parse("name", ZoneName::parse)?,
        cidrs: row.json("cidrs")?,
        blocked_cidrs: row.json("blocked_cidrs")?,
        location: row
            .opt_text("location")?
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::corrupt("location", e)))
            .transpose()?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl<E: Exec> Zones<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: ZoneId) -> Result<Option<NetworkZone>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(zone_from_row)
            .transpose()
    }

    /// The zone named `name`, ignoring case.
    pub async fn by_name(&mut self, name: &str) -> Result<Option<NetworkZone>, StoreError> {
        let q = query(concat!(select!(), " WHERE name_key = $1")).bind(name.trim().to_lowercase());
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(zone_from_row)
            .transpose()
    }

    /// Every zone, in name order.
    pub async fn list(&mut self) -> Result<Vec<NetworkZone>, StoreError> {
        let rows = self
            .ex
            .fetch_all(query(concat!(select!(), " ORDER BY name_key")))
            .await?;
        rows.iter().map(zone_from_row).collect()
    }
}

impl Zones<InTx<'_>> {
    /// Inserts a zone; [`StoreError::Duplicate`] (`name`) when the name is taken.
    pub async fn insert(&mut self, zone: &NetworkZone) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO network_zones (id, name, name_key, cidrs, blocked_cidrs, created_at, updated_at, location) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(zone.id)
        .bind(zone.name.as_str())
        .bind(zone.name.key())
        .bind_json(&zone.cidrs)
        .bind_json(&zone.blocked_cidrs)
        .bind(zone.created_at)
        .bind(zone.updated_at)
        .bind(location_json(zone));
        self.ex.execute(q).await.map_err(|e| e.unique_as("name"))?;
        Ok(())
    }

    /// Replaces name and ranges (by id); false when it does not exist.
    pub async fn update(&mut self, zone: &NetworkZone) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE network_zones SET name = $2, name_key = $3, cidrs = $4, blocked_cidrs = $5, updated_at = $6, \
             location = $7 WHERE id = $1",
        )
        .bind(zone.id)
        .bind(zone.name.as_str())
        .bind(zone.name.key())
        .bind_json(&zone.cidrs)
        .bind_json(&zone.blocked_cidrs)
        .bind(zone.updated_at)
        .bind(location_json(zone));
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("name"))? == 1)
    }

    pub async fn delete(&mut self, id: ZoneId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM network_zones WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await? == 1)
    }
}

fn location_json(zone: &NetworkZone) -> Option<String> {
    zone.location.and_then(|l| serde_json::to_string(&l).ok())
}
