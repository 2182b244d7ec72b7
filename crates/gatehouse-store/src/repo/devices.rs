//! Registered devices (`devices`): the record only. Deleting a device deletes the enrollments
//! on it; sessions established with it keep their row with the device cleared (they are ended
//! when the device is deactivated, which must come first).

use gatehouse_core::device::UserVerification;
use gatehouse_core::model::{Device, DeviceId, DeviceStatus, KeyStorage, UserId};

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The devices repository.
#[derive(Debug)]
pub struct Devices<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, user_id, status, display_name, platform, os_version, model, secure_hardware, managed, \
         biometric_capable, key_storage, pop_public_key, uv_public_key, uv_level, created_at, updated_at, \
         last_seen_at FROM devices"
    };
}

fn device_from_row(row: &Row) -> Result<Device, StoreError> {
    Ok(Device {
        id: row.parse("id", DeviceId::parse)?,
        user_id: row.parse("user_id", UserId::parse)?,
        status: row.parse("status", DeviceStatus::parse)?,
        display_name: row.text("display_name")?,
        platform: row.text("platform")?,
        os_version: row.text("os_version")?,
        model: row.text("model")?,
        secure_hardware: row.bool("secure_hardware")?,
        managed: row.bool("managed")?,
        biometric_capable: row.bool("biometric_capable")?,
        key_storage: row.parse("key_storage", KeyStorage::parse)?,
        pop_public_key: row.text("pop_public_key")?,
        uv_public_key: row.opt_text("uv_public_key")?,
        uv_level: row.opt_parse("uv_level", str::parse::<UserVerification>)?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        last_seen_at: row.opt_time("last_seen_at")?,
    })
}

impl<E: Exec> Devices<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: DeviceId) -> Result<Option<Device>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()
    }

    /// Every device, oldest first (the admin registry).
    pub async fn list(&mut self) -> Result<Vec<Device>, StoreError> {
        let rows = self
            .ex
            .fetch_all(query(concat!(select!(), " ORDER BY created_at, id")))
            .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// Whether any device is active (a sign-in page then offers passwordless FastPass).
    pub async fn any_active(&mut self) -> Result<bool, StoreError> {
        // A literal, not a parameter: PostgreSQL's generic plan for `status = $1 LIMIT 1` is a
        // sequential scan, which reads every device when none is active.
        let q = query("SELECT id FROM devices WHERE status = 'active' LIMIT 1");
        Ok(self.ex.fetch_optional(q).await?.is_some())
    }

    /// The device of `user` registered by the Verify installation `installation_id`.
    pub async fn by_installation(
        &mut self,
        user: UserId,
        installation_id: &str,
    ) -> Result<Option<Device>, StoreError> {
        let q = query(concat!(
            select!(),
            " WHERE user_id = $1 AND installation_id = $2 ORDER BY created_at LIMIT 1"
        ))
        .bind(user)
        .bind(installation_id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()
    }

    /// The Verify installation id of a device (empty when unknown).
    pub async fn installation_id(&mut self, id: DeviceId) -> Result<Option<String>, StoreError> {
        let q = query("SELECT installation_id FROM devices WHERE id = $1").bind(id);
        let row = self.ex.fetch_optional(q).await?;
        row.map(|r| r.text("installation_id")).transpose()
    }

    /// A user's devices, oldest first.
    pub async fn of_user(&mut self, user: UserId) -> Result<Vec<Device>, StoreError> {
        let q = query(concat!(select!(), " WHERE user_id = $1 ORDER BY created_at, id")).bind(user);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(device_from_row).collect()
    }
}

impl Devices<InTx<'_>> {
    pub async fn insert(&mut self, device: &Device) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO devices (id, user_id, status, display_name, platform, os_version, model, secure_hardware, \
             managed, biometric_capable, key_storage, pop_public_key, uv_public_key, uv_level, created_at, \
             updated_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(device.id)
        .bind(device.user_id)
        .bind(device.status.as_str())
        .bind(device.display_name.as_str())
        .bind(device.platform.as_str())
        .bind(device.os_version.as_str())
        .bind(device.model.as_str())
        .bind(device.secure_hardware)
        .bind(device.managed)
        .bind(device.biometric_capable)
        .bind(device.key_storage.as_str())
        .bind(device.pop_public_key.as_str())
        .bind(device.uv_public_key.as_deref())
        .bind(device.uv_level.map(|l| l.as_str()))
        .bind(device.created_at)
        .bind(device.updated_at)
        .bind(device.last_seen_at);
        self.ex.execute(q).await.map_err(|e| e.foreign_key_as("user"))?;
        Ok(())
    }

    /// Replaces every mutable field (by id); false when it does not exist.
    pub async fn update(&mut self, device: &Device) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE devices SET status = $2, display_name = $3, platform = $4, os_version = $5, model = $6, \
             secure_hardware = $7, managed = $8, biometric_capable = $9, key_storage = $10, pop_public_key = $11, \
             uv_public_key = $12, uv_level = $13, updated_at = $14, last_seen_at = $15 WHERE id = $1",
        )
        .bind(device.id)
        .bind(device.status.as_str())
        .bind(device.display_name.as_str())
        .bind(device.platform.as_str())
        .bind(device.os_version.as_str())
        .bind(device.model.as_str())
        .bind(device.secure_hardware)
        .bind(device.managed)
        .bind(device.biometric_capable)
        .bind(device.key_storage.as_str())
        .bind(device.pop_public_key.as_str())
        .bind(device.uv_public_key.as_deref())
        .bind(device.uv_level.map(|l| l.as_str()))
        .bind(device.updated_at)
        .bind(device.last_seen_at);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Records the Verify installation that registered the device.
    pub async fn set_installation_id(
        &mut self,
        id: DeviceId,
        installation_id: &str,
    ) -> Result<bool, StoreError> {
        let q = query("UPDATE devices SET installation_id = $2 WHERE id = $1")
            .bind(id)
            .bind(installation_id);
        Ok(self.ex.execute(q).await? == 1)
    }

    pub async fn delete(&mut self, id: DeviceId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM devices WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await? == 1)
    }
}
