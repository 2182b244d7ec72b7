//! Installation settings (`settings`): small named facts such as `demo_seeded`.

use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, query};

/// The settings repository.
#[derive(Debug)]
pub struct Settings<E> {
    ex: E,
}

impl<E: Exec> Settings<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .ex
            .fetch_optional(query("SELECT value FROM settings WHERE key = $1").bind(key))
            .await?;
        row.map(|r| r.text("value")).transpose()
    }
}

impl Settings<InTx<'_>> {
    /// Sets `key` to `value`, replacing any earlier value.
    pub async fn set(&mut self, key: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now);
        self.ex.execute(q).await?;
        Ok(())
    }
}
