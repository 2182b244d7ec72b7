//! Applications (`applications`, `app_group_assignments`, `app_user_assignments`). Redirect
//! URIs and grant types are JSON arrays; assignments live in their own tables and are replaced
//! as a whole on update. A group assigned to an application cannot be deleted.

use gatehouse_core::model::{
    AppId, AppName, Application, Assignments, ClientId, ClientKind, GrantType, GroupId, PolicyId,
    TokenAuthMethod, UserId,
};
use jiff::Timestamp;

use super::Builder;
use crate::StoreError;
use crate::page::{Page, PageRequest};
use crate::sql::{Exec, InTx, Row, query};

/// The applications repository.
#[derive(Debug)]
pub struct Apps<E> {
    ex: E,
}

macro_rules! columns {
    () => {
        "a.id, a.client_id, a.name, a.kind, a.secret_digest, a.redirect_uris, a.post_logout_redirect_uris, \
         a.grant_types, a.token_endpoint_auth_method, a.policy_id, a.backchannel_logout_uri, a.created_at, a.updated_at"
    };
}

fn app_from_row(row: &Row) -> Result<Application, StoreError> {
    let grants: Vec<String> = row.json("grant_types")?;
    let grant_types = grants
        .iter()
        .map(|g| GrantType::parse(g).map_err(|e| StoreError::corrupt("grant_types", e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Application {
        id: row.parse("id", AppId::parse)?,
        client_id: row.parse("client_id", ClientId::parse)?,
        name: row.parse("name", AppName::parse)?,
        kind: row.parse("kind", ClientKind::parse)?,
        secret_digest: row.opt_text("secret_digest")?,
        redirect_uris: row.json("redirect_uris")?,
        post_logout_redirect_uris: row.json("post_logout_redirect_uris")?,
        grant_types,
        token_endpoint_auth_method: row.parse("token_endpoint_auth_method", TokenAuthMethod::parse)?,
        policy_id: row.opt_parse("policy_id", PolicyId::parse)?,
        backchannel_logout_uri: row.opt_text("backchannel_logout_uri")?,
        assignments: Assignments::default(),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

impl<E: Exec> Apps<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    async fn with_assignments(&mut self, row: Option<Row>) -> Result<Option<Application>, StoreError> {
        let Some(row) = row else { return Ok(None) };
        let mut app = app_from_row(&row)?;
        app.assignments = self.assignments(app.id).await?;
        Ok(Some(app))
    }

    pub async fn get(&mut self, id: AppId) -> Result<Option<Application>, StoreError> {
        let q = query(concat!(
            "SELECT ",
            columns!(),
            " FROM applications a WHERE a.id = $1"
        ))
        .bind(id);
        let row = self.ex.fetch_optional(q).await?;
        self.with_assignments(row).await
    }

    /// The application with this `client_id` (exact match).
    pub async fn by_client_id(&mut self, client_id: &str) -> Result<Option<Application>, StoreError> {
        let q = query(concat!(
            "SELECT ",
            columns!(),
            " FROM applications a WHERE a.client_id = $1"
        ))
        .bind(client_id);
        let row = self.ex.fetch_optional(q).await?;
        self.with_assignments(row).await
    }

    /// Applications in `client_id` order.
    pub async fn list(&mut self, page: &PageRequest) -> Result<Page<Application>, StoreError> {
        let mut b = Builder::new(concat!("SELECT ", columns!(), " FROM applications a WHERE 1 = 1"));
        if let Some(after) = &page.after {
            b.sql(" AND a.client_id > ").bind(after.clone());
        }
        b.sql(" ORDER BY a.client_id LIMIT ").bind(page.fetch());
        let rows = self.ex.fetch_all(b.build()).await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(app) = self.with_assignments(Some(row)).await? {
                apps.push(app);
            }
        }
        Ok(Page::from_rows(apps, page, |a| a.client_id.as_str().to_owned()))
    }

    /// The applications whose sign-ins use `policy`.
    pub async fn using_policy(&mut self, policy: PolicyId) -> Result<Vec<Application>, StoreError> {
        let q = query(concat!(
            "SELECT ",
            columns!(),
            " FROM applications a WHERE a.policy_id = $1 ORDER BY a.client_id"
        ))
        .bind(policy);
        let rows = self.ex.fetch_all(q).await?;
        let mut apps = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(app) = self.with_assignments(Some(row)).await? {
                apps.push(app);
            }
        }
        Ok(apps)
    }

    pub async fn assignments(&mut self, app: AppId) -> Result<Assignments, StoreError> {
        let q =
            query("SELECT group_id FROM app_group_assignments WHERE app_id = $1 ORDER BY group_id").bind(app);
        let groups = self
            .ex
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.parse("group_id", GroupId::parse))
            .collect::<Result<Vec<_>, _>>()?;
        let q =
            query("SELECT user_id FROM app_user_assignments WHERE app_id = $1 ORDER BY user_id").bind(app);
        let users = self
            .ex
            .fetch_all(q)
            .await?
            .iter()
            .map(|r| r.parse("user_id", UserId::parse))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Assignments { groups, users })
    }

    pub async fn count(&mut self) -> Result<i64, StoreError> {
        let row = self
            .ex
            .fetch_optional(query("SELECT COUNT(*) AS n FROM applications"))
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}

fn grant_names(app: &Application) -> Vec<&'static str> {
    app.grant_types.iter().map(|g| g.as_str()).collect()
}

impl Apps<InTx<'_>> {
    /// Inserts an application and its assignments; [`StoreError::Duplicate`] (`client_id`) when
    /// the client id is taken.
    pub async fn insert(&mut self, app: &Application) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO applications (id, client_id, name, kind, secret_digest, redirect_uris, \
             post_logout_redirect_uris, grant_types, token_endpoint_auth_method, policy_id, created_at, updated_at, \
             backchannel_logout_uri) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(app.id)
        .bind(app.client_id.as_str())
        .bind(app.name.as_str())
        .bind(app.kind.as_str())
        .bind(app.secret_digest.as_deref())
        .bind_json(&app.redirect_uris)
        .bind_json(&app.post_logout_redirect_uris)
        .bind_json(&grant_names(app))
        .bind(app.token_endpoint_auth_method.as_str())
        .bind(app.policy_id)
        .bind(app.created_at)
        .bind(app.updated_at)
        .bind(app.backchannel_logout_uri.as_deref());
        self.ex
            .execute(q)
            .await
            .map_err(|e| e.unique_as("client_id").foreign_key_as("policy"))?;
        self.write_assignments(app.id, &app.assignments).await
    }

    /// Replaces every field and the assignments (by id); false when it does not exist.
    pub async fn update(&mut self, app: &Application) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE applications SET client_id = $2, name = $3, kind = $4, secret_digest = $5, redirect_uris = $6, \
             post_logout_redirect_uris = $7, grant_types = $8, token_endpoint_auth_method = $9, policy_id = $10, \
             updated_at = $11, backchannel_logout_uri = $12 WHERE id = $1",
        )
        .bind(app.id)
        .bind(app.client_id.as_str())
        .bind(app.name.as_str())
        .bind(app.kind.as_str())
        .bind(app.secret_digest.as_deref())
        .bind_json(&app.redirect_uris)
        .bind_json(&app.post_logout_redirect_uris)
        .bind_json(&grant_names(app))
        .bind(app.token_endpoint_auth_method.as_str())
        .bind(app.policy_id)
        .bind(app.updated_at)
        .bind(app.backchannel_logout_uri.as_deref());
        let updated = self
            .ex
            .execute(q)
            .await
            .map_err(|e| e.unique_as("client_id").foreign_key_as("policy"))?;
        if updated != 1 {
            return Ok(false);
        }
        self.ex
            .execute(query("DELETE FROM app_group_assignments WHERE app_id = $1").bind(app.id))
            .await?;
        self.ex
            .execute(query("DELETE FROM app_user_assignments WHERE app_id = $1").bind(app.id))
            .await?;
        self.write_assignments(app.id, &app.assignments).await?;
        Ok(true)
    }

    async fn write_assignments(&mut self, app: AppId, assignments: &Assignments) -> Result<(), StoreError> {
        for group in &assignments.groups {
            let q = query(
                "INSERT INTO app_group_assignments (app_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(*group);
            self.ex.execute(q).await.map_err(|e| e.foreign_key_as("group"))?;
        }
        for user in &assignments.users {
            let q = query(
                "INSERT INTO app_user_assignments (app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(app)
            .bind(*user);
            self.ex.execute(q).await.map_err(|e| e.foreign_key_as("user"))?;
        }
        Ok(())
    }

    /// Sets the client secret's digest (rotation); false when the application does not exist.
    pub async fn set_secret_digest(
        &mut self,
        id: AppId,
        digest: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query("UPDATE applications SET secret_digest = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(digest)
            .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Points an application at an authentication policy (or none).
    pub async fn set_policy(
        &mut self,
        id: AppId,
        policy: Option<PolicyId>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query("UPDATE applications SET policy_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(policy)
            .bind(now);
        Ok(self.ex.execute(q).await.map_err(|e| e.foreign_key_as("policy"))? == 1)
    }

    /// Deletes an application and its assignments; false when it did not exist.
    pub async fn delete(&mut self, id: AppId) -> Result<bool, StoreError> {
        let q = query("DELETE FROM applications WHERE id = $1").bind(id);
        Ok(self
            .ex
            .execute(q)
            .await
            .map_err(|e| e.foreign_key_as("application"))?
            == 1)
    }
}
