//! The authorization server's access-policy rules (`access_rules`): each row keeps the rule's
//! JSON as the OIDC crate reads it, with `name` and `priority` copied out for order and
//! uniqueness. Evaluation order is ascending priority, then name.

use gatehouse_core::model::{AccessRuleId, AccessRuleRecord, PolicyName};

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The access-rules repository (few rows: not paged).
#[derive(Debug)]
pub struct AccessRules<E> {
    ex: E,
}

macro_rules! select {
    () => {
        "SELECT id, name, priority, body, created_at, updated_at FROM access_rules"
    };
}

fn rule_from_row(row: &Row) -> Result<AccessRuleRecord, StoreError> {
    Ok(AccessRuleRecord {
        id: row.parse("id", AccessRuleId::parse)?,
        name: row.parse("name", PolicyName::parse)?,
        priority: row.int("priority")?,
        body: row.json("body")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl<E: Exec> AccessRules<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// Every rule in evaluation order.
    pub async fn list(&mut self) -> Result<Vec<AccessRuleRecord>, StoreError> {
        let rows = self
            .ex
            .fetch_all(query(concat!(select!(), " ORDER BY priority, name_key")))
            .await?;
        rows.iter().map(rule_from_row).collect()
    }

    pub async fn get(&mut self, id: AccessRuleId) -> Result<Option<AccessRuleRecord>, StoreError> {
        let q = query(concat!(select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }

    pub async fn by_name(&mut self, name: &str) -> Result<Option<AccessRuleRecord>, StoreError> {
        let q = query(concat!(select!(), " WHERE name_key = $1")).bind(name.trim().to_lowercase());
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }
}

impl AccessRules<InTx<'_>> {
    /// Inserts a rule; [`StoreError::Duplicate`] (`name`) when the name is taken.
    pub async fn insert(&mut self, rule: &AccessRuleRecord) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO access_rules (id, name, name_key, priority, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rule.id)
        .bind(rule.name.as_str())
        .bind(rule.name.key())
        .bind(rule.priority)
        .bind(rule.body.to_string())
        .bind(rule.created_at)
        .bind(rule.updated_at);
        self.ex.execute(q).await.map_err(|e| e.unique_as("name"))?;
        Ok(())
    }

    /// Replaces a rule (by id); false when it does not exist.
    pub async fn update(&mut self, rule: &AccessRuleRecord) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE access_rules SET name = $2, name_key = $3, priority = $4, body = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(rule.id)
        .bind(rule.name.as_str())
        .bind(rule.name.key())
        .bind(rule.priority)
        .bind(rule.body.to_string())
        .bind(rule.updated_at);
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("name"))? == 1)
    }

    pub async fn delete(&mut self, id: AccessRuleId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM access_rules WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await? == 1)
    }
}
