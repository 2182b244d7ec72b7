//! Users (`users`). Logins are unique by their lower-case key; deleting a user removes its
//! memberships, enrollments, devices and sessions with it (the system log keeps its events).

use gatehouse_core::model::{
    DisplayName, EVERYONE_ID, Email, GroupId, Login, Profile, User, UserId, UserStatus,
};
use jiff::Timestamp;

use super::{Builder, escape_like};
use crate::StoreError;
use crate::page::{Page, PageRequest};
use crate::sql::{Exec, InTx, Row, query};

/// The users repository.
#[derive(Debug)]
pub struct Users<E> {
    ex: E,
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Login, email or display name starting with this text (case-insensitive).
    pub q: Option<String>,
    pub status: Option<UserStatus>,
    /// Members of this group.
    pub group: Option<GroupId>,
}

macro_rules! columns {
    () => {
        "u.id, u.login, u.email, u.display_name, u.status, u.profile, u.created_at, u.updated_at, \
         u.status_changed_at, u.last_sign_in_at"
    };
}
pub(crate) use columns as user_columns;

pub(crate) fn user_from_row(row: &Row) -> Result<User, StoreError> {
    let profile: serde_json::Value = row.json("profile")?;
    Ok(User {
        id: row.parse("id", UserId::parse)?,
        login: row.parse("login", Login::parse)?,
        email: row.parse("email", Email::parse)?,
        display_name: row.parse("display_name", DisplayName::parse)?,
        status: row.parse("status", UserStatus::parse)?,
        profile: Profile::parse(profile).map_err(|e| StoreError::corrupt("profile", e))?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        status_changed_at: row.time("status_changed_at")?,
        last_sign_in_at: row.opt_time("last_sign_in_at")?,
    })
}

impl<E: Exec> Users<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    pub async fn get(&mut self, id: UserId) -> Result<Option<User>, StoreError> {
        let q = query(concat!("SELECT ", columns!(), " FROM users u WHERE u.id = $1")).bind(id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    /// The user whose login is `login`, ignoring case.
    pub async fn by_login(&mut self, login: &str) -> Result<Option<User>, StoreError> {
        let key = login.trim().to_ascii_lowercase();
        let q = query(concat!(
            "SELECT ",
            columns!(),
            " FROM users u WHERE u.login_key = $1"
        ))
        .bind(key);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    /// Users in login order, filtered.
    pub async fn list(&mut self, filter: &UserFilter, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let mut b = Builder::new(concat!("SELECT ", columns!(), " FROM users u WHERE 1 = 1"));
        if let Some(status) = filter.status {
            b.sql(" AND u.status = ").bind(status.as_str());
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            let pattern = format!("{}%", escape_like(&q.to_lowercase()));
            b.sql(" AND (u.login_key LIKE ")
                .bind(pattern.clone())
                .sql(" ESCAPE '\\'");
            b.sql(" OR lower(u.email) LIKE ")
                .bind(pattern.clone())
                .sql(" ESCAPE '\\'");
            b.sql(" OR lower(u.display_name) LIKE ")
                .bind(pattern)
                .sql(" ESCAPE '\\')");
        }
        if let Some(group) = filter.group.filter(|g| *g != EVERYONE_ID) {
            b.sql(" AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = u.id AND gm.group_id = ")
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

    /// The last login, in login order, of those starting with `prefix` (case-insensitive).
    pub async fn highest_login_with_prefix(&mut self, prefix: &str) -> Result<Option<String>, StoreError> {
        let q = query(
            "SELECT login FROM users WHERE login_key LIKE $1 ESCAPE '\\' ORDER BY login_key DESC LIMIT 1",
        )
        .bind(format!("{}%", escape_like(&prefix.to_lowercase())));
        self.ex
            .fetch_optional(q)
            .await?
            .map(|r| r.text("login"))
            .transpose()
    }

    pub async fn count(&mut self) -> Result<i64, StoreError> {
        let row = self
            .ex
            .fetch_optional(query("SELECT COUNT(*) AS n FROM users"))
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}

impl Users<InTx<'_>> {
    /// Inserts many users, a few hundred per statement (bulk loads: `gatehouse dev seed`);
    /// [`StoreError::Duplicate`] (`login`) when a login is taken.
    pub async fn insert_many(&mut self, users: &[User]) -> Result<(), StoreError> {
        for chunk in users.chunks(super::BULK_ROWS) {
            let mut b = Builder::new(
                "INSERT INTO users (id, login, login_key, email, display_name, status, profile, created_at, \
                 updated_at, status_changed_at, last_sign_in_at) VALUES ",
            );
            for (i, user) in chunk.iter().enumerate() {
                b.sql(if i == 0 { "(" } else { ", (" })
                    .bind(user.id)
                    .sql(", ")
                    .bind(user.login.as_str())
                    .sql(", ")
                    .bind(user.login.key())
                    .sql(", ")
                    .bind(user.email.as_str())
                    .sql(", ")
                    .bind(user.display_name.as_str())
                    .sql(", ")
                    .bind(user.status.as_str())
                    .sql(", ")
                    .bind(user.profile.to_value().to_string())
                    .sql(", ")
                    .bind(user.created_at)
                    .sql(", ")
                    .bind(user.updated_at)
                    .sql(", ")
                    .bind(user.status_changed_at)
                    .sql(", ")
                    .bind(user.last_sign_in_at)
                    .sql(")");
            }
            self.ex
                .execute(b.build())
                .await
                .map_err(|e| e.unique_as("login"))?;
        }
        Ok(())
    }

    /// Inserts a user; [`StoreError::Duplicate`] (`login`) when the login is taken.
    pub async fn insert(&mut self, user: &User) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO users (id, login, login_key, email, display_name, status, profile, created_at, \
             updated_at, status_changed_at, last_sign_in_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(user.id)
        .bind(user.login.as_str())
        .bind(user.login.key())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.status.as_str())
        .bind(user.profile.to_value().to_string())
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(user.status_changed_at)
        .bind(user.last_sign_in_at);
        self.ex.execute(q).await.map_err(|e| e.unique_as("login"))?;
        Ok(())
    }

    /// Replaces every field of the user (by id); false when it does not exist.
    pub async fn update(&mut self, user: &User) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE users SET login = $2, login_key = $3, email = $4, display_name = $5, status = $6, \
             profile = $7, updated_at = $8, status_changed_at = $9, last_sign_in_at = $10 WHERE id = $1",
        )
        .bind(user.id)
        .bind(user.login.as_str())
        .bind(user.login.key())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.status.as_str())
        .bind(user.profile.to_value().to_string())
        .bind(user.updated_at)
        .bind(user.status_changed_at)
        .bind(user.last_sign_in_at);
        Ok(self.ex.execute(q).await.map_err(|e| e.unique_as("login"))? == 1)
    }

    /// Records a completed sign-in.
    pub async fn record_sign_in(&mut self, id: UserId, now: Timestamp) -> Result<bool, StoreError> {
        let q = query("UPDATE users SET last_sign_in_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Deletes a user and everything that belongs to it; false when it did not exist.
    pub async fn delete(&mut self, id: UserId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM users WHERE id = $1").bind(id);
        Ok(self.ex.execute(q).await.map_err(|e| e.foreign_key_as("user"))? == 1)
    }
}
