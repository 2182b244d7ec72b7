//! Policies and their rules (`policies`, `policy_rules`). A rule's place is its `position`
//! (0-based, contiguous); inserting, deleting and re-ordering keep positions contiguous inside
//! the caller's transaction, so a reader never sees two orders mixed.

use gatehouse_core::model::{Policy, PolicyId, PolicyKind, PolicyName, PolicyRule, RuleId};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// The policies repository. Policies and rules are few: lists are not paged.
#[derive(Debug)]
pub struct Policies<E> {
    ex: E,
}

macro_rules! policy_select {
    () => {
        "SELECT id, kind, name, body, created_at, updated_at FROM policies"
    };
}

macro_rules! rule_select {
    () => {
        "SELECT id, policy_id, position, name, body, created_at, updated_at FROM policy_rules"
    };
}

fn policy_from_row(row: &Row) -> Result<Policy, StoreError> {
    Ok(Policy {
        id: row.parse("id", PolicyId::parse)?,
        kind: row.parse("kind", PolicyKind::parse)?,
        name: row.parse("name", PolicyName::parse)?,
        settings: row.json("body")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn rule_from_row(row: &Row) -> Result<PolicyRule, StoreError> {
    Ok(PolicyRule {
        id: row.parse("id", RuleId::parse)?,
        policy_id: row.parse("policy_id", PolicyId::parse)?,
        position: row.int("position")?,
        name: row.parse("name", PolicyName::parse)?,
        body: row.json("body")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl<E: Exec> Policies<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: PolicyId) -> Result<Option<Policy>, StoreError> {
        let q = query(concat!(policy_select!(), " WHERE id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(policy_from_row)
            .transpose()
    }

    /// The policy of `kind` named `name`, ignoring case.
    pub async fn by_name(&mut self, kind: PolicyKind, name: &str) -> Result<Option<Policy>, StoreError> {
        let q = query(concat!(policy_select!(), " WHERE kind = $1 AND name_key = $2"))
            .bind(kind.as_str())
            .bind(name.trim().to_lowercase());
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(policy_from_row)
            .transpose()
    }

    /// Policies of one kind (or all), by kind then name.
    pub async fn list(&mut self, kind: Option<PolicyKind>) -> Result<Vec<Policy>, StoreError> {
        let rows = match kind {
            Some(kind) => {
                let q = query(concat!(policy_select!(), " WHERE kind = $1 ORDER BY name_key"))
                    .bind(kind.as_str());
                self.ex.fetch_all(q).await?
            }
            None => {
                self.ex
                    .fetch_all(query(concat!(policy_select!(), " ORDER BY kind, name_key")))
                    .await?
            }
        };
        rows.iter().map(policy_from_row).collect()
    }

    pub async fn count(&mut self) -> Result<i64, StoreError> {
        let row = self
            .ex
            .fetch_optional(query("SELECT COUNT(*) AS n FROM policies"))
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }

    /// The rules of `policy` in order.
    pub async fn rules(&mut self, policy: PolicyId) -> Result<Vec<PolicyRule>, StoreError> {
        let q = query(concat!(
            rule_select!(),
            " WHERE policy_id = $1 ORDER BY position, id"
        ))
        .bind(policy);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// One rule of `policy`.
    pub async fn rule(&mut self, policy: PolicyId, rule: RuleId) -> Result<Option<PolicyRule>, StoreError> {
        let q = query(concat!(rule_select!(), " WHERE policy_id = $1 AND id = $2"))
            .bind(policy)
            .bind(rule);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }
}

impl Policies<InTx<'_>> {
    /// Inserts a policy (without rules); [`StoreError::Duplicate`] (`name`) when its kind already
    /// has a policy of that name.
    pub async fn insert(&mut self, policy: &Policy) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO policies (id, kind, name, name_key, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(policy.id)
        .bind(policy.kind.as_str())
        .bind(policy.name.as_str())
        .bind(policy.name.key())
        .bind(policy.settings.to_string())
        .bind(policy.created_at)
        .bind(policy.updated_at);
        self.ex.execute(q).await.map_err(|e| e.unique_as("name"))?;
        Ok(())
    }

    /// Updates name and settings; false when the policy does not exist.
    pub async fn update(&mut self, policy: &Policy) -> Result<bool, StoreError> {
        let q =
            query("UPDATE policies SET name = $2, name_key = $3, body = $4, updated_at = $5 WHERE id = $1")
                .bind(policy.id)
                .bind(policy.name.as_str())
                .bind(policy.name.key())
                .bind(policy.settings.to_string())
                .bind(policy.updated_at);
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("name"))? == 1)
    }

    /// Deletes a policy and its rules; [`StoreError::InUse`] while an application uses it.
    pub async fn delete(&mut self, id: PolicyId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM policies WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await.map_err(|e| e.foreign_key_as("policy"))? == 1)
    }

    /// Inserts a rule at `rule.position` (clamped to the end), moving later rules down;
    /// [`StoreError::Duplicate`] (`name`) when the policy has a rule of that name. Returns the
    /// position it took.
    pub async fn insert_rule(&mut self, rule: &PolicyRule) -> Result<i64, StoreError> {
        let count = self.rule_count(rule.policy_id).await?;
        let position = rule.position.clamp(0, count);
        let q =
            query("UPDATE policy_rules SET position = position + 1 WHERE policy_id = $1 AND position >= $2")
                .bind(rule.policy_id)
                .bind(position);
        self.ex.execute(q).await?;
        let q = query(
            "INSERT INTO policy_rules (id, policy_id, position, name, name_key, body, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(rule.id)
        .bind(rule.policy_id)
        .bind(position)
        .bind(rule.name.as_str())
        .bind(rule.name.key())
        .bind(rule.body.to_string())
        .bind(rule.created_at)
        .bind(rule.updated_at);
        self.ex.execute(q).await.map_err(|e| e.unique_as("name"))?;
        Ok(position)
    }

    /// Updates a rule's name and body (not its place); false when it does not exist.
    pub async fn update_rule(&mut self, rule: &PolicyRule) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE policy_rules SET name = $3, name_key = $4, body = $5, updated_at = $6 \
             WHERE policy_id = $1 AND id = $2",
        )
        .bind(rule.policy_id)
        .bind(rule.id)
        .bind(rule.name.as_str())
        .bind(rule.name.key())
        .bind(rule.body.to_string())
        .bind(rule.updated_at);
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("name"))? == 1)
    }

    /// Deletes a rule and closes the gap it leaves; false when it does not exist.
    pub async fn delete_rule(&mut self, policy: PolicyId, rule: RuleId) -> Result<bool, StoreError> {
        let Some(existing) = self.rule(policy, rule).await? else {
            return Ok(false);
        };
        let q = query("DELETE FROM policy_rules WHERE policy_id = $1 AND id = $2")
            .bind(policy)
            .bind(rule);
        self.ex.execute(q).await?;
        let q =
            query("UPDATE policy_rules SET position = position - 1 WHERE policy_id = $1 AND position > $2")
                .bind(policy)
                .bind(existing.position);
        self.ex.execute(q).await?;
        Ok(true)
    }

    /// Puts the rules of `policy` in the order of `order`, which must name each rule exactly
    /// once; returns false (and changes nothing) when it does not.
    pub async fn reorder_rules(
        &mut self,
        policy: PolicyId,
        order: &[RuleId],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let current = self.rules(policy).await?;
        let same_set = current.len() == order.len()
            && current.iter().all(|r| order.contains(&r.id))
            && order
                .iter()
                .enumerate()
                .all(|(i, id)| !order.iter().skip(i + 1).any(|o| o == id));
        if !same_set {
            return Ok(false);
        }
        for (position, id) in (0_i64..).zip(order) {
            let q = query(
                "UPDATE policy_rules SET position = $3, updated_at = $4 WHERE policy_id = $1 AND id = $2",
            )
            .bind(policy)
            .bind(*id)
            .bind(position)
            .bind(now);
            self.ex.execute(q).await?;
        }
        Ok(true)
    }

    /// Removes every rule of `policy` (before writing a new set, as `policy apply` does).
    pub async fn clear_rules(&mut self, policy: PolicyId) -> Result<u64, StoreError> {
        self.ex
            .execute(query("DELETE FROM policy_rules WHERE policy_id = $1").bind(policy))
            .await
    }

    async fn rule_count(&mut self, policy: PolicyId) -> Result<i64, StoreError> {
        let q = query("SELECT COUNT(*) AS n FROM policy_rules WHERE policy_id = $1").bind(policy);
        let row = self.ex.fetch_optional(q).await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}
