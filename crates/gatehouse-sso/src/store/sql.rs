//! The query text both backends share, as one macro each backend module expands for its own
//! connection and row types.
//!
//! A backend type passed to [`impl_backend!`] must have a `pool` field and an inherent
//! `begin_write()` returning a write transaction: that is where the dialects differ
//! (`BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` on PostgreSQL).

macro_rules! impl_backend {
    ($backend:ty, $db:ty, $row:ty, $kind:literal) => {
        use sqlx::Row as _;

        use $crate::SsoError;
        use $crate::domain::TenantSlug;
        use $crate::store::{
            AuditRecord, Backend, BoxFuture, ConsumedState, LoginOutcome, LoginRecord, LoginStateRecord, NewAudit,
            ProvisioningRecord, SessionRecord, SvcMember, SvcProject, SvcSubscription, TenantRecord, UserRecord,
        };


        fn tenant_from_row(row: &$row, allowed_origins: Vec<String>) -> Result<TenantRecord, SsoError> {
            let slug: String = row.try_get("slug")?;
            Ok(TenantRecord {
                id: row.try_get("id")?,
                slug: TenantSlug::parse(&slug).map_err(SsoError::Corrupt)?,
                company_name: row.try_get("company_name")?,
                issuer: row.try_get("issuer")?,
                client_id: row.try_get("client_id")?,
                client_secret_sealed: row.try_get("client_secret_sealed")?,
                allowed_origins,
                enabled: row.try_get("enabled")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn user_from_row(row: &$row) -> Result<UserRecord, SsoError> {
            Ok(UserRecord {
                id: row.try_get("id")?,
                tenant_id: row.try_get("tenant_id")?,
                issuer: row.try_get("issuer")?,
                subject: row.try_get("subject")?,
                email: row.try_get("email")?,
                name: row.try_get("name")?,
                role: row.try_get("role")?,
                project_role: row.try_get("project_role")?,
                created_at: row.try_get("created_at")?,
                last_login_at: row.try_get("last_login_at")?,
                synced_at: row.try_get("synced_at")?,
            })
        }


        fn provisioning_from_row(row: &$row) -> Result<ProvisioningRecord, SsoError> {
            Ok(ProvisioningRecord {
                tenant_id: row.try_get("tenant_id")?,
                owner_user_id: row.try_get("owner_user_id")?,
                project_id: row.try_get("project_id")?,
                subscription_id: row.try_get("subscription_id")?,
                plan: row.try_get("plan")?,
                state: row.try_get("state")?,
                requested_gen: row.try_get("requested_gen")?,
                claimed_gen: row.try_get("claimed_gen")?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                locked_until: row.try_get("locked_until")?,
                last_error: row.try_get("last_error")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }


        fn project_from_row(row: &$row) -> Result<SvcProject, SsoError> {
            Ok(SvcProject {
                id: row.try_get("id")?,
                external_id: row.try_get("external_id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn subscription_from_row(row: &$row) -> Result<SvcSubscription, SsoError> {
            Ok(SvcSubscription {
                id: row.try_get("id")?,
                project_id: row.try_get("project_id")?,
                plan: row.try_get("plan")?,
                created_at: row.try_get("created_at")?,
            })
        }

        async fn insert_audit(tx: &mut sqlx::Transaction<'static, $db>, e: &NewAudit) -> Result<(), SsoError> {
            sqlx::query("INSERT INTO audit_events (at, kind, tenant, actor, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(e.at)
                .bind(&e.kind)
                .bind(&e.tenant)
                .bind(&e.actor)
                .bind(e.detail.to_string())
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        impl $backend {
            async fn origins_of(&self, tenant_id: &str) -> Result<Vec<String>, SsoError> {
                let rows = sqlx::query("SELECT origin FROM tenant_origins WHERE tenant_id = $1 ORDER BY position")
                    .bind(tenant_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| r.try_get("origin").map_err(SsoError::from)).collect()
            }

            async fn tenant_where(&self, sql: &'static str, key: &str) -> Result<Option<TenantRecord>, SsoError> {
                let Some(row) = sqlx::query(sql).bind(key).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let id: String = row.try_get("id")?;
                let origins = self.origins_of(&id).await?;
                tenant_from_row(&row, origins).map(Some)
            }
        }

        impl Backend for $backend {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn close(&self) -> BoxFuture<'_, ()> {
                Box::pin(async move { self.pool.close().await })
            }

            fn insert_tenant<'a>(&'a self, t: &'a TenantRecord, audit: &'a NewAudit) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let inserted = sqlx::query(
                        "INSERT INTO tenants (id, slug, company_name, issuer, client_id, client_secret_sealed, \
                         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&t.id)
                    .bind(t.slug.as_str())
                    .bind(&t.company_name)
                    .bind(&t.issuer)
                    .bind(&t.client_id)
                    .bind(&t.client_secret_sealed)
                    .bind(t.enabled)
                    .bind(t.created_at)
                    .bind(t.updated_at)
                    .execute(&mut *tx)
                    .await;
                    match inserted {
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                            return Err(SsoError::TenantExists(t.slug.to_string()));
                        }
                        other => {
                            other?;
                        }
                    }
                    for (position, origin) in (0i64..).zip(&t.allowed_origins) {
                        sqlx::query("INSERT INTO tenant_origins (tenant_id, origin, position) VALUES ($1, $2, $3)")
                            .bind(&t.id)
                            .bind(origin)
                            .bind(position)
                            .execute(&mut *tx)
                            .await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn tenant_by_slug<'a>(&'a self, slug: &'a str) -> BoxFuture<'a, Result<Option<TenantRecord>, SsoError>> {
                Box::pin(async move {
                    self.tenant_where(
                        "SELECT id, slug, company_name, issuer, client_id, client_secret_sealed, enabled, created_at, \
                         updated_at FROM tenants WHERE slug = $1",
                        slug,
                    )
                    .await
                })
            }

            fn tenant_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<TenantRecord>, SsoError>> {
                Box::pin(async move {
                    self.tenant_where(
                        "SELECT id, slug, company_name, issuer, client_id, client_secret_sealed, enabled, created_at, \
                         updated_at FROM tenants WHERE id = $1",
                        id,
                    )
                    .await
                })
            }

            fn list_tenants(&self) -> BoxFuture<'_, Result<Vec<TenantRecord>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, slug, company_name, issuer, client_id, client_secret_sealed, enabled, created_at, \
                         updated_at FROM tenants ORDER BY slug",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let id: String = row.try_get("id")?;
                        let origins = self.origins_of(&id).await?;
                        out.push(tenant_from_row(row, origins)?);
                    }
                    Ok(out)
                })
            }

            fn update_tenant<'a>(&'a self, t: &'a TenantRecord, audit: &'a NewAudit) -> BoxFuture<'a, Result<bool, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE tenants SET company_name = $2, issuer = $3, client_id = $4, client_secret_sealed = $5, \
                         enabled = $6, updated_at = $7 WHERE id = $1",
                    )
                    .bind(&t.id)
                    .bind(&t.company_name)
                    .bind(&t.issuer)
                    .bind(&t.client_id)
                    .bind(&t.client_secret_sealed)
                    .bind(t.enabled)
                    .bind(t.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM tenant_origins WHERE tenant_id = $1")
                        .bind(&t.id)
                        .execute(&mut *tx)
                        .await?;
                    for (position, origin) in (0i64..).zip(&t.allowed_origins) {
                        sqlx::query("INSERT INTO tenant_origins (tenant_id, origin, position) VALUES ($1, $2, $3)")
                            .bind(&t.id)
                            .bind(origin)
                            .bind(position)
                            .execute(&mut *tx)
                            .await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await?;
                    Ok(true)
                })
            }

            fn delete_tenant<'a>(&'a self, slug: &'a str, audit: &'a NewAudit) -> BoxFuture<'a, Result<bool, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("DELETE FROM tenants WHERE slug = $1")
                        .bind(slug)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await?;
                    Ok(true)
                })
            }

            fn tenants_allowing_origin<'a>(&'a self, origin: &'a str) -> BoxFuture<'a, Result<Vec<String>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT t.slug FROM tenant_origins o JOIN tenants t ON t.id = o.tenant_id \
                         WHERE o.origin = $1 AND t.enabled ORDER BY t.slug",
                    )
                    .bind(origin)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| r.try_get("slug").map_err(SsoError::from)).collect()
                })
            }

            fn insert_login_state<'a>(&'a self, s: &'a LoginStateRecord) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO login_states (state_hash, tenant_id, browser_hash, pkce_verifier_sealed, \
                         nonce_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&s.state_hash)
                    .bind(&s.tenant_id)
                    .bind(&s.browser_hash)
                    .bind(&s.pkce_verifier_sealed)
                    .bind(&s.nonce_sealed)
                    .bind(s.created_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn consume_login_state<'a>(
                &'a self,
                state_hash: &'a str,
                tenant_id: &'a str,
                browser_hash: &'a str,
                oldest: i64,
            ) -> BoxFuture<'a, Result<Option<ConsumedState>, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    // INVARIANT: one statement finds and removes the state, so two callbacks racing
                    // with the same state cannot both get it.
                    let row = sqlx::query(
                        "DELETE FROM login_states WHERE state_hash = $1 AND tenant_id = $2 AND browser_hash = $3 \
                         AND created_at >= $4 RETURNING pkce_verifier_sealed, nonce_sealed, created_at",
                    )
                    .bind(state_hash)
                    .bind(tenant_id)
                    .bind(browser_hash)
                    .bind(oldest)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    row.map(|r| {
                        Ok(ConsumedState {
                            pkce_verifier_sealed: r.try_get("pkce_verifier_sealed")?,
                            nonce_sealed: r.try_get("nonce_sealed")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .transpose()
                })
            }

            fn purge_login_states(&self, older_than: i64) -> BoxFuture<'_, Result<u64, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("DELETE FROM login_states WHERE created_at < $1")
                        .bind(older_than)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(done.rows_affected())
                })
            }

            fn record_login<'a>(&'a self, l: &'a LoginRecord) -> BoxFuture<'a, Result<LoginOutcome, SsoError>> {
                Box::pin(async move {
                    use $crate::domain::provisioning::{PLAN, ProjectRole, USER_ROLE};
                    let mut tx = self.begin_write().await?;
                    // INVARIANT: the uniqueness of tenant_provisioning.tenant_id decides the owner:
                    // exactly one transaction inserts the row, however many first logins race.
                    let inserted_project = sqlx::query(
                        "INSERT INTO tenant_provisioning (tenant_id, owner_user_id, plan, state, requested_gen, \
                         claimed_gen, attempts, next_attempt_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'pending', 1, 0, 0, $4, $4, $4) \
                         ON CONFLICT (tenant_id) DO NOTHING RETURNING tenant_id",
                    )
                    .bind(&l.tenant_id)
                    .bind(&l.new_user_id)
                    .bind(PLAN)
                    .bind(l.now)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                    let role = ProjectRole::for_login(inserted_project);
                    let row = sqlx::query(
                        "INSERT INTO users (id, tenant_id, issuer, subject, email, name, role, project_role, \
                         created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                         ON CONFLICT (tenant_id, issuer, subject) DO UPDATE SET \
                         email = COALESCE(excluded.email, users.email), \
                         name = COALESCE(excluded.name, users.name), \
                         last_login_at = excluded.last_login_at \
                         RETURNING id, tenant_id, issuer, subject, email, name, role, project_role, created_at, \
                         last_login_at, synced_at",
                    )
                    .bind(&l.new_user_id)
                    .bind(&l.tenant_id)
                    .bind(&l.issuer)
                    .bind(&l.subject)
                    .bind(&l.email)
                    .bind(&l.name)
                    .bind(USER_ROLE)
                    .bind(role.as_str())
                    .bind(l.now)
                    .fetch_one(&mut *tx)
                    .await?;
                    let mut user = user_from_row(&row)?;
                    let inserted_user = user.id == l.new_user_id;
                    if inserted_project && !inserted_user {
                        // A returning user whose tenant lost its project row: they own the new one.
                        sqlx::query("UPDATE users SET project_role = 'owner', synced_at = NULL WHERE id = $1")
                            .bind(&user.id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE tenant_provisioning SET owner_user_id = $2 WHERE tenant_id = $1")
                            .bind(&l.tenant_id)
                            .bind(&user.id)
                            .execute(&mut *tx)
                            .await?;
                        user.project_role = ProjectRole::Owner.as_str().to_owned();
                        user.synced_at = None;
                    }
                    if inserted_user && !inserted_project {
                        // A new member must reach the provisioning services too.
                        sqlx::query(
                            "UPDATE tenant_provisioning SET requested_gen = requested_gen + 1, \
                             next_attempt_at = CASE WHEN state = 'done' THEN $2 ELSE next_attempt_at END, \
                             state = CASE WHEN state = 'done' THEN 'pending' ELSE state END, \
                             updated_at = $2 WHERE tenant_id = $1",
                        )
                        .bind(&l.tenant_id)
                        .bind(l.now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let audit = NewAudit {
                        at: l.now,
                        kind: "sso.login.succeeded".into(),
                        tenant: Some(l.tenant_slug.clone()),
                        actor: format!("user:{}", user.id),
                        detail: serde_json::json!({
                            "subject": l.subject,
                            "issuer": l.issuer,
                            "email": l.email,
                            "new_user": inserted_user,
                            "project_role": user.project_role,
                            "first_login_of_tenant": inserted_project,
                        }),
                    };
                    insert_audit(&mut tx, &audit).await?;
                    if inserted_project || inserted_user {
                        let requested = NewAudit {
                            at: l.now,
                            kind: "provision.requested".into(),
                            tenant: Some(l.tenant_slug.clone()),
                            actor: format!("user:{}", user.id),
                            detail: serde_json::json!({
                                "project": inserted_project,
                                "member": user.id,
                                "project_role": user.project_role,
                            }),
                        };
                        insert_audit(&mut tx, &requested).await?;
                    }
                    tx.commit().await?;
                    Ok(LoginOutcome {
                        user,
                        inserted_project,
                        inserted_user,
                    })
                })
            }

            fn user_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<UserRecord>, SsoError>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT id, tenant_id, issuer, subject, email, name, role, project_role, created_at, \
                         last_login_at, synced_at FROM users WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(user_from_row).transpose()
                })
            }

            fn users_of_tenant<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Vec<UserRecord>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, tenant_id, issuer, subject, email, name, role, project_role, created_at, \
                         last_login_at, synced_at FROM users WHERE tenant_id = $1 ORDER BY created_at, id",
                    )
                    .bind(tenant_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(user_from_row).collect()
                })
            }

            fn insert_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO sessions (token_hash, user_id, tenant_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&s.token_hash)
                    .bind(&s.user_id)
                    .bind(&s.tenant_id)
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn session<'a>(&'a self, token_hash: &'a str, now: i64) -> BoxFuture<'a, Result<Option<SessionRecord>, SsoError>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT token_hash, user_id, tenant_id, created_at, expires_at FROM sessions \
                         WHERE token_hash = $1 AND expires_at > $2",
                    )
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| {
                        Ok(SessionRecord {
                            token_hash: r.try_get("token_hash")?,
                            user_id: r.try_get("user_id")?,
                            tenant_id: r.try_get("tenant_id")?,
                            created_at: r.try_get("created_at")?,
                            expires_at: r.try_get("expires_at")?,
                        })
                    })
                    .transpose()
                })
            }

            fn delete_session<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn purge_sessions(&self, now: i64) -> BoxFuture<'_, Result<u64, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(done.rows_affected())
                })
            }

            fn provisioning<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Option<ProvisioningRecord>, SsoError>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT tenant_id, owner_user_id, project_id, subscription_id, plan, state, requested_gen, \
                         claimed_gen, attempts, next_attempt_at, locked_until, last_error, created_at, updated_at \
                         FROM tenant_provisioning WHERE tenant_id = $1",
                    )
                    .bind(tenant_id)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(provisioning_from_row).transpose()
                })
            }

            fn claim_provisioning<'a>(
                &'a self,
                tenant_id: &'a str,
                now: i64,
                lease_until: i64,
                force: bool,
            ) -> BoxFuture<'a, Result<Option<ProvisioningRecord>, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    // INVARIANT: the claim is one conditional UPDATE, so at most one runner holds a
                    // tenant at a time and the project is requested once.
                    let row = sqlx::query(
                        "UPDATE tenant_provisioning SET state = 'running', claimed_gen = requested_gen, \
                         locked_until = $3, updated_at = $2 \
                         WHERE tenant_id = $1 AND ( \
                           (state = 'pending' AND (next_attempt_at <= $2 OR $4)) \
                           OR (state = 'done' AND $4) \
                           OR (state = 'running' AND locked_until < $2)) \
                         RETURNING tenant_id, owner_user_id, project_id, subscription_id, plan, state, \
                         requested_gen, claimed_gen, attempts, next_attempt_at, locked_until, last_error, \
                         created_at, updated_at",
                    )
                    .bind(tenant_id)
                    .bind(now)
                    .bind(lease_until)
                    .bind(force)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    row.as_ref().map(provisioning_from_row).transpose()
                })
            }

            fn due_provisioning(&self, now: i64, limit: i64) -> BoxFuture<'_, Result<Vec<String>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT tenant_id FROM tenant_provisioning \
                         WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'running' AND locked_until < $1) \
                         ORDER BY next_attempt_at LIMIT $2",
                    )
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|r| r.try_get("tenant_id").map_err(SsoError::from)).collect()
                })
            }

            fn set_project_id<'a>(&'a self, tenant_id: &'a str, project_id: &'a str, now: i64) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "UPDATE tenant_provisioning SET project_id = $2, updated_at = $3 \
                         WHERE tenant_id = $1 AND project_id IS NULL",
                    )
                    .bind(tenant_id)
                    .bind(project_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn set_subscription_id<'a>(&'a self, tenant_id: &'a str, subscription_id: &'a str, now: i64) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "UPDATE tenant_provisioning SET subscription_id = $2, updated_at = $3 \
                         WHERE tenant_id = $1 AND subscription_id IS NULL",
                    )
                    .bind(tenant_id)
                    .bind(subscription_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn unsynced_members<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Vec<UserRecord>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, tenant_id, issuer, subject, email, name, role, project_role, created_at, \
                         last_login_at, synced_at FROM users WHERE tenant_id = $1 AND synced_at IS NULL \
                         ORDER BY created_at, id",
                    )
                    .bind(tenant_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(user_from_row).collect()
                })
            }

            fn mark_member_synced<'a>(&'a self, user_id: &'a str, now: i64) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("UPDATE users SET synced_at = $2 WHERE id = $1")
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn finish_provisioning<'a>(&'a self, tenant_id: &'a str, now: i64) -> BoxFuture<'a, Result<String, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let row = sqlx::query(
                        "UPDATE tenant_provisioning SET \
                         state = CASE WHEN requested_gen = claimed_gen THEN 'done' ELSE 'pending' END, \
                         attempts = 0, last_error = NULL, locked_until = NULL, next_attempt_at = $2, updated_at = $2 \
                         WHERE tenant_id = $1 RETURNING state",
                    )
                    .bind(tenant_id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    match row {
                        Some(r) => Ok(r.try_get("state")?),
                        None => Ok("gone".into()),
                    }
                })
            }

            fn fail_provisioning<'a>(
                &'a self,
                tenant_id: &'a str,
                error: &'a str,
                next_attempt_at: i64,
                now: i64,
            ) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "UPDATE tenant_provisioning SET state = 'pending', attempts = attempts + 1, last_error = $2, \
                         locked_until = NULL, next_attempt_at = $3, updated_at = $4 WHERE tenant_id = $1",
                    )
                    .bind(tenant_id)
                    .bind(error)
                    .bind(next_attempt_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn append_audit<'a>(&'a self, event: &'a NewAudit) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    insert_audit(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn audit_events<'a>(
                &'a self,
                tenant: Option<&'a str>,
                kind_prefix: Option<&'a str>,
                limit: i64,
            ) -> BoxFuture<'a, Result<Vec<AuditRecord>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, at, kind, tenant, actor, detail FROM audit_events \
                         WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR kind LIKE $2 || '%') \
                         ORDER BY id DESC LIMIT $3",
                    )
                    .bind(tenant)
                    .bind(kind_prefix)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(AuditRecord {
                                id: r.try_get("id")?,
                                at: r.try_get("at")?,
                                kind: r.try_get("kind")?,
                                tenant: r.try_get("tenant")?,
                                actor: r.try_get("actor")?,
                                detail: r.try_get("detail")?,
                            })
                        })
                        .collect()
                })
            }

            fn insert_admin_token<'a>(&'a self, id: &'a str, name: &'a str, token_hash: &'a str, now: i64) -> BoxFuture<'a, Result<(), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(name)
                        .bind(token_hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let audit = NewAudit {
                        at: now,
                        kind: "admin.token.created".into(),
                        tenant: None,
                        actor: "cli".into(),
                        detail: serde_json::json!({ "id": id, "name": name }),
                    };
                    insert_audit(&mut tx, &audit).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn admin_token_known<'a>(&'a self, token_hash: &'a str) -> BoxFuture<'a, Result<bool, SsoError>> {
                Box::pin(async move {
                    let row = sqlx::query("SELECT id FROM admin_tokens WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.is_some())
                })
            }

            fn admin_token_count(&self) -> BoxFuture<'_, Result<i64, SsoError>> {
                Box::pin(async move {
                    let row = sqlx::query("SELECT COUNT(*) AS n FROM admin_tokens").fetch_one(&self.pool).await?;
                    Ok(row.try_get("n")?)
                })
            }

            fn svc_create_project<'a>(&'a self, id: &'a str, external_id: &'a str, name: &'a str, now: i64) -> BoxFuture<'a, Result<(SvcProject, bool), SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let created = sqlx::query(
                        "INSERT INTO svc_projects (id, external_id, name, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (external_id) DO NOTHING RETURNING id",
                    )
                    .bind(id)
                    .bind(external_id)
                    .bind(name)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                    let row = sqlx::query("SELECT id, external_id, name, created_at FROM svc_projects WHERE external_id = $1")
                        .bind(external_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let project = project_from_row(&row)?;
                    tx.commit().await?;
                    Ok((project, created))
                })
            }

            fn svc_create_subscription<'a>(&'a self, id: &'a str, project_id: &'a str, plan: &'a str, now: i64) -> BoxFuture<'a, Result<Option<(SvcSubscription, bool)>, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let project = sqlx::query("SELECT id FROM svc_projects WHERE id = $1")
                        .bind(project_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if project.is_none() {
                        return Ok(None);
                    }
                    let created = sqlx::query(
                        "INSERT INTO svc_subscriptions (id, project_id, plan, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (project_id) DO NOTHING RETURNING id",
                    )
                    .bind(id)
                    .bind(project_id)
                    .bind(plan)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                    let row = sqlx::query("SELECT id, project_id, plan, created_at FROM svc_subscriptions WHERE project_id = $1")
                        .bind(project_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let sub = subscription_from_row(&row)?;
                    tx.commit().await?;
                    Ok(Some((sub, created)))
                })
            }

            fn svc_upsert_member<'a>(&'a self, m: &'a SvcMember) -> BoxFuture<'a, Result<Option<bool>, SsoError>> {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let project = sqlx::query("SELECT id FROM svc_projects WHERE id = $1")
                        .bind(&m.project_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if project.is_none() {
                        return Ok(None);
                    }
                    let existed = sqlx::query("SELECT user_id FROM svc_members WHERE project_id = $1 AND user_id = $2")
                        .bind(&m.project_id)
                        .bind(&m.user_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    sqlx::query(
                        "INSERT INTO svc_members (project_id, user_id, email, name, role, project_role, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id, user_id) DO UPDATE SET \
                         email = excluded.email, name = excluded.name, role = excluded.role, \
                         project_role = excluded.project_role, updated_at = excluded.updated_at",
                    )
                    .bind(&m.project_id)
                    .bind(&m.user_id)
                    .bind(&m.email)
                    .bind(&m.name)
                    .bind(&m.role)
                    .bind(&m.project_role)
                    .bind(m.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Some(!existed))
                })
            }

            fn svc_projects(&self) -> BoxFuture<'_, Result<Vec<SvcProject>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT id, external_id, name, created_at FROM svc_projects ORDER BY created_at, id")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(project_from_row).collect()
                })
            }

            fn svc_subscriptions(&self) -> BoxFuture<'_, Result<Vec<SvcSubscription>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT id, project_id, plan, created_at FROM svc_subscriptions ORDER BY created_at, id")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(subscription_from_row).collect()
                })
            }

            fn svc_members<'a>(&'a self, project_id: &'a str) -> BoxFuture<'a, Result<Vec<SvcMember>, SsoError>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT project_id, user_id, email, name, role, project_role, updated_at FROM svc_members \
                         WHERE project_id = $1 ORDER BY user_id",
                    )
                    .bind(project_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(SvcMember {
                                project_id: r.try_get("project_id")?,
                                user_id: r.try_get("user_id")?,
                                email: r.try_get("email")?,
                                name: r.try_get("name")?,
                                role: r.try_get("role")?,
                                project_role: r.try_get("project_role")?,
                                updated_at: r.try_get("updated_at")?,
                            })
                        })
                        .collect()
                })
            }
        }
    };
}

pub(crate) use impl_backend;
