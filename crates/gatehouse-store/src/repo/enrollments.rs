//! Authenticator enrollments (`enrollments`). Method data is JSON; secrets
//! inside method data arrive already sealed. `counter` advances only through
//! [`Enrollments::record_use`], a compare-and-set, so a TOTP step or a WebAuthn signature counter
//! is accepted once even when two requests race.

use gatehouse_core::model::{
    AuthenticatorKey, DeviceId, Enrollment, EnrollmentId, EnrollmentStatus, UserId, parse_authenticator,
    parse_method, parse_user_verification,
};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Query, Row, query};

/// The enrollments repository.
#[derive(Debug)]
pub struct Enrollments<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, user_id, authenticator, methods, status, name, data, hardware_protected, user_verification, device_id, \
         counter, \
         created_at, updated_at, last_used_at FROM enrollments"
    };
}

fn enrollment_from_row(row: &Row) -> Result<Enrollment, StoreError> {
    let methods: Vec<String> = row.json("methods")?;
    let methods = methods
        .iter()
        .map(|m| parse_method("methods", m).map_err(|e| StoreError::corrupt("methods", e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Enrollment {
        id: row.parse("id", EnrollmentId::parse)?,
        user_id: row.parse("user_id", UserId::parse)?,
        authenticator: row.parse("authenticator", |t| parse_authenticator("authenticator", t))?,
        methods,
        status: row.parse("status", EnrollmentStatus::parse)?,
        name: row.opt_text("name")?,
        data: row.json("data")?,
        hardware_protected: row.bool("hardware_protected")?,
        user_verification: row.parse("user_verification", |t| {
            parse_user_verification("user_verification", t)
        })?,
        device_id: row.opt_parse("device_id", DeviceId::parse)?,
        counter: row.opt_int("counter")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

fn method_names(enrollment: &Enrollment) -> Vec<&'static str> {
    enrollment.methods.iter().map(|m| m.as_str()).collect()
}

impl<E: Exec> Enrollments<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: EnrollmentId) -> Result<Option<Enrollment>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(enrollment_from_row)
            .transpose()
    }

    /// A user's enrollments, oldest first.
    pub async fn of_user(&mut self, user: UserId) -> Result<Vec<Enrollment>, StoreError> {
        let q = query(concat!(select!(), " WHERE user_id = $1 ORDER BY created_at, id")).bind(user);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(enrollment_from_row).collect()
    }

    /// Whether anyone has an active enrollment of `authenticator` (a sign-in page then offers
    /// passwordless sign-in with it).
    pub async fn any_active_of(&mut self, authenticator: AuthenticatorKey) -> Result<bool, StoreError> {
        // Literals, not parameters (both are names from a closed set): PostgreSQL's generic plan
        // for `authenticator = $1 AND status = $2 LIMIT 1` is a sequential scan, which at a million
        // users read every enrollment on every sign-in when nobody had a passkey (issue 9).
        let q = Query::built(format!(
            "SELECT id FROM enrollments WHERE authenticator = '{}' AND status = '{}' LIMIT 1",
            authenticator.as_str(),
            EnrollmentStatus::Active.as_str()
        ));
        Ok(self.ex.fetch_optional(q).await?.is_some())
    }

    /// The enrollments that live on a device.
    pub async fn of_device(&mut self, device: DeviceId) -> Result<Vec<Enrollment>, StoreError> {
        let q = query(concat!(
            select!(),
            " WHERE device_id = $1 ORDER BY created_at, id"
        ))
        .bind(device);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(enrollment_from_row).collect()
    }
}

impl Enrollments<InTx<'_>> {
    /// Inserts many enrollments, a few hundred per statement (bulk loads: `gatehouse dev seed`).
    pub async fn insert_many(&mut self, enrollments: &[Enrollment]) -> Result<(), StoreError> {
        for chunk in enrollments.chunks(super::BULK_ROWS) {
            let mut b = super::Builder::new(
                "INSERT INTO enrollments (id, user_id, authenticator, methods, status, name, data, \
                 hardware_protected, user_verification, device_id, counter, created_at, updated_at, \
                 last_used_at) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                let methods = serde_json::to_string(&method_names(e)).unwrap_or_else(|_| "[]".to_owned());
                b.sql(if i == 0 { "(" } else { ", (" })
                    .bind(e.id)
                    .sql(", ")
                    .bind(e.user_id)
                    .sql(", ")
                    .bind(e.authenticator.as_str())
                    .sql(", ")
                    .bind(methods)
                    .sql(", ")
                    .bind(e.status.as_str())
                    .sql(", ")
                    .bind(e.name.as_deref())
                    .sql(", ")
                    .bind(e.data.to_string())
                    .sql(", ")
                    .bind(e.hardware_protected)
                    .sql(", ")
                    .bind(e.user_verification.as_str())
                    .sql(", ")
                    .bind(e.device_id)
                    .sql(", ")
                    .bind(e.counter)
                    .sql(", ")
                    .bind(e.created_at)
                    .sql(", ")
                    .bind(e.updated_at)
                    .sql(", ")
                    .bind(e.last_used_at)
                    .sql(")");
            }
            self.ex
                .execute(b.build())
                .await
                .map_err(|e| e.foreign_key_as("user or device"))?;
        }
        Ok(())
    }

    pub async fn insert(&mut self, enrollment: &Enrollment) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO enrollments (id, user_id, authenticator, methods, status, name, data, hardware_protected, \
             user_verification, device_id, counter, created_at, updated_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(enrollment.id)
        .bind(enrollment.user_id)
        .bind(enrollment.authenticator.as_str())
        .bind_json(&method_names(enrollment))
        .bind(enrollment.status.as_str())
        .bind(enrollment.name.as_deref())
        .bind(enrollment.data.to_string())
        .bind(enrollment.hardware_protected)
        .bind(enrollment.user_verification.as_str())
        .bind(enrollment.device_id)
        .bind(enrollment.counter)
        .bind(enrollment.created_at)
        .bind(enrollment.updated_at)
        .bind(enrollment.last_used_at);
        self.ex
            .execute(q)
            .await
            .map_err(|e| e.foreign_key_as("user or device"))?;
        Ok(())
    }

    /// Replaces methods, status, name, data and capabilities (not the counter); false when it
    /// does not exist.
    pub async fn update(&mut self, enrollment: &Enrollment) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE enrollments SET methods = $2, status = $3, name = $4, data = $5, hardware_protected = $6, \
             user_verification = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(enrollment.id)
        .bind_json(&method_names(enrollment))
        .bind(enrollment.status.as_str())
        .bind(enrollment.name.as_deref())
        .bind(enrollment.data.to_string())
        .bind(enrollment.hardware_protected)
        .bind(enrollment.user_verification.as_str())
        .bind(enrollment.updated_at);
        Ok(self.ex.execute(q).await? == 1)
    }

    pub async fn set_status(
        &mut self,
        id: EnrollmentId,
        status: EnrollmentStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query("UPDATE enrollments SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Records a successful use at `now`. With a `counter`, succeeds only if it is greater than
    /// the stored one (or none is stored), and stores it: false means a replay (or an unknown
    /// enrollment), and nothing changed.
    pub async fn record_use(
        &mut self,
        id: EnrollmentId,
        now: Timestamp,
        counter: Option<i64>,
    ) -> Result<bool, StoreError> {
        let affected = match counter {
            Some(counter) => {
                let q = query(
                    "UPDATE enrollments SET counter = $2, last_used_at = $3 \
                     WHERE id = $1 AND (counter IS NULL OR counter < $2)",
                )
                .bind(id)
                .bind(counter)
                .bind(now);
                self.ex.execute(q).await?
            }
            None => {
                let q = query("UPDATE enrollments SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now);
                self.ex.execute(q).await?
            }
        };
        Ok(affected == 1)
    }

    /// Deactivates every enrollment on a device; returns how many changed.
    pub async fn deactivate_of_device(
        &mut self,
        device: DeviceId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE enrollments SET status = $2, updated_at = $3 WHERE device_id = $1 AND status <> $2",
        )
        .bind(device)
        .bind(EnrollmentStatus::Inactive.as_str())
        .bind(now);
        self.ex.execute(q).await
    }

    pub async fn delete(&mut self, id: EnrollmentId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM enrollments WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await? == 1)
    }
}
