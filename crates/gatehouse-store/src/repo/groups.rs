//! Groups (`groups`, `group_members`). The built-in `everyone` group exists from the first
//! migration and holds every user by definition: its membership is never stored, and the
//! queries here add it where it belongs.

use gatehouse_core::model::{EVERYONE_ID, Group, GroupId, GroupName, User, UserId};
use jiff::Timestamp;

use super::Builder;
use super::users::{user_columns, user_from_row};
use crate::StoreError;
use crate::page::{Page, PageRequest};
use crate::sql::{Exec, InTx, Row, query};

/// The groups repository.
#[derive(Debug)]
pub struct Groups<E> {
    ex: E,
}

macro_rules! columns {
    () => {
        "g.id, g.name, g.description, g.builtin, g.created_at, g.updated_at"
    };
}

/// The groups of user `$1`, `everyone` (`$2`) included, as `columns`: two index lookups,
/// sorted by the caller. The `OR … IN (subquery) ORDER BY` form made SQLite build a temporary
/// list and a temporary sort tree for a handful of rows, on every sign-in step and refresh.
macro_rules! of_user {
    ($columns:expr) => {
        concat!(
            "SELECT ",
            $columns,
            " FROM groups g WHERE g.id = $2 \
             UNION ALL SELECT ",
            $columns,
            " FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             WHERE gm.user_id = $1 AND gm.group_id <> $2"
        )
    };
}

fn group_from_row(row: &Row) -> Result<Group, StoreError> {
    Ok(Group {
        id: row.parse("id", GroupId::parse)?,
        name: row.parse("name", GroupName::parse)?,
        description: row.text("description")?,
        builtin: row.bool("builtin")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl<E: Exec> Groups<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: GroupId) -> Result<Option<Group>, StoreError> {
        let q = query(concat!("SELECT ", columns!(), " FROM groups g WHERE g.id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(group_from_row)
            .transpose()
    }

    /// The group named `name`, ignoring case.
    pub async fn by_name(&mut self, name: &str) -> Result<Option<Group>, StoreError> {
        let q = query(concat!(
            "SELECT ",
            columns!(),
            " FROM groups g WHERE g.name_key = $1"
        ))
        .bind(name.trim().to_lowercase());
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(group_from_row)
            .transpose()
    }

    /// Groups in name order.
    pub async fn list(&mut self, page: &PageRequest) -> Result<Page<Group>, StoreError> {
        let mut b = Builder::new(concat!("SELECT ", columns!(), " FROM groups g WHERE 1 = 1"));
        if let Some(after) = &page.after {
            b.sql(" AND g.name_key > ").bind(after.clone());
        }
        b.sql(" ORDER BY g.name_key LIMIT ").bind(page.fetch());
        let rows = self.ex.fetch_all(b.build()).await?;
        let groups = rows.iter().map(group_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(groups, page, |g| g.name.key().to_owned()))
    }

    /// The groups `user` belongs to, `everyone` included, in name order.
    pub async fn of_user(&mut self, user: UserId) -> Result<Vec<Group>, StoreError> {
        let q = query(of_user!(columns!())).bind(user).bind(EVERYONE_ID);
        let rows = self.ex.fetch_all(q).await?;
        let mut groups = rows.iter().map(group_from_row).collect::<Result<Vec<_>, _>>()?;
        groups.sort_by(|a, b| a.name.key().cmp(b.name.key()));
        Ok(groups)
    }

    /// The names of the groups `user` belongs to, `everyone` included, in the order of
    /// [`Self::of_user`]: what a sign-in step, a token and userinfo need of them, without
    /// reading and parsing each group's whole row.
    pub async fn names_of_user(&mut self, user: UserId) -> Result<Vec<String>, StoreError> {
        let q = query(of_user!("g.name, g.name_key")).bind(user).bind(EVERYONE_ID);
        let rows = self.ex.fetch_all(q).await?;
        let mut names = rows
            .iter()
            .map(|row| Ok((row.text("name_key")?, row.text("name")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(names.into_iter().map(|(_, name)| name).collect())
    }

    /// Whether `user` is a member of `group` (always, for `everyone`).
    pub async fn is_member(&mut self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        if group == EVERYONE_ID {
            return Ok(true);
        }
        let q = query("SELECT 1 AS one FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group)
            .bind(user);
        Ok(self.ex.fetch_optional(q).await?.is_some())
    }

    /// The members of `group` in login order (every user, for `everyone`).
    pub async fn members(&mut self, group: GroupId, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let mut b = Builder::new(concat!("SELECT ", user_columns!(), " FROM users u WHERE 1 = 1"));
        if group != EVERYONE_ID {
            b.sql(" AND u.id IN (SELECT gm.user_id FROM group_members gm WHERE gm.group_id = ")
                .bind(group)
                .sql(")");
        }
        if let Some(after) = &page.after {
            b.sql(" AND u.login_key > ").bind(after.clone());
        }
        b.sql(" ORDER BY u.login_key LIMIT ").bind(page.fetch());
        let rows = self.ex.fetch_all(b.build()).await?;
        let users = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(users, page, |u| u.login.key().to_owned()))
    }

    /// The `client_id`s of the applications assigned to `group`.
    pub async fn assigned_apps(&mut self, group: GroupId) -> Result<Vec<String>, StoreError> {
        let q = query(
            "SELECT a.client_id FROM applications a JOIN app_group_assignments x ON x.app_id = a.id \
             WHERE x.group_id = $1 ORDER BY a.client_id",
        )
        .bind(group);
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(|r| r.text("client_id")).collect()
    }
}

impl Groups<InTx<'_>> {
    /// Inserts a group; [`StoreError::Duplicate`] (`name`) when the name is taken.
    pub async fn insert(&mut self, group: &Group) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO groups (id, name, name_key, description, builtin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(group.id)
        .bind(group.name.as_str())
        .bind(group.name.key())
        .bind(group.description.as_str())
        .bind(group.builtin)
        .bind(group.created_at)
        .bind(group.updated_at);
        self.ex.execute(q).await.map_err(|e| e.unique_as("name"))?;
        Ok(())
    }

    /// Updates name and description (never a built-in group); false when it does not exist.
    pub async fn update(&mut self, group: &Group) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE groups SET name = $2, name_key = $3, description = $4, updated_at = $5 \
             WHERE id = $1 AND builtin = $6",
        )
        .bind(group.id)
        .bind(group.name.as_str())
        .bind(group.name.key())
        .bind(group.description.as_str())
        .bind(group.updated_at)
        .bind(false);
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("name"))? == 1)
    }

    /// Deletes a group (never a built-in one) and its memberships; [`StoreError::InUse`] while an
    /// application is assigned to it; false when it does not exist.
    pub async fn delete(&mut self, id: GroupId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM groups WHERE id = $1 AND builtin = $2")
            .bind(id)
            .bind(false);
        Ok(self.ex.execute(q).await.map_err(|e| e.foreign_key_as("group"))? == 1)
    }

    /// Adds `user` to `group`; false when already a member. Not for `everyone`.
    /// Adds many (group, user) memberships, a few hundred per statement (bulk loads); pairs
    /// already there and the built-in `everyone` are skipped.
    pub async fn add_members(
        &mut self,
        pairs: &[(GroupId, UserId)],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let pairs: Vec<&(GroupId, UserId)> = pairs.iter().filter(|(g, _)| *g != EVERYONE_ID).collect();
        for chunk in pairs.chunks(super::BULK_ROWS) {
            let mut b = Builder::new("INSERT INTO group_members (group_id, user_id, added_at) VALUES ");
            for (i, (group, user)) in chunk.iter().enumerate() {
                b.sql(if i == 0 { "(" } else { ", (" })
                    .bind(*group)
                    .sql(", ")
                    .bind(*user)
                    .sql(", ")
                    .bind(now)
                    .sql(")");
            }
            b.sql(" ON CONFLICT (group_id, user_id) DO NOTHING");
            self.ex.execute(b.build()).await?;
        }
        Ok(())
    }

    pub async fn add_member(
        &mut self,
        group: GroupId,
        user: UserId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if group == EVERYONE_ID {
            return Ok(false);
        }
        let q = query(
            "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .bind(now);
        Ok(self
            .ex
            .execute(q)
            .await
            .map_err(|e| e.foreign_key_as("group or user"))?
            == 1)
    }

    /// Removes `user` from `group`; false when not a member.
    pub async fn remove_member(&mut self, group: GroupId, user: UserId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group)
            .bind(user);
        Ok(self.ex.execute(q).await? == 1)
    }
}
