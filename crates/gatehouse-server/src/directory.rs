//! The stored policies as one policy document: zones, the global session policy, the enrollment
//! policy and every authentication policy with the apps that use it — assembled from the
//! database ([`load_document`]), compiled ([`compile`]), and written back from a policy file
//! ([`apply`], used by `gatehouse policy apply` and the demo seed).

use gatehouse_core::model::{
    Actor, NetworkZone as ZoneRecord, Outcome, Policy, PolicyKind, PolicyName, PolicyRule, ZoneName,
    event_types,
};
use gatehouse_policy::{
    AuthenticationPolicy, EnrollmentPolicy, GlobalSessionPolicy, GlobalSessionRule, PolicyDocument,
    PolicySet, Rule,
};
use gatehouse_store::{Store, StoreError, Tx, new_id};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::ServerError;
use crate::audit::Event;

/// Reads the stored policies into a policy document.
pub async fn load_document(store: &Store) -> Result<PolicyDocument, ServerError> {
    let corrupt = |what: String, e: &dyn std::fmt::Display| ServerError::Corrupt {
        what,
        reason: e.to_string(),
    };
    let network_zones = store
        .zones()
        .list()
        .await?
        .iter()
        .map(ZoneRecord::to_policy)
        .collect();
    let mut document = PolicyDocument {
        version: 1,
        network_zones,
        global_session_policy: None,
        enrollment_policy: None,
        authentication_policies: Vec::new(),
    };
    for policy in store.policies().list(None).await? {
        let rules = store.policies().rules(policy.id).await?;
        match policy.kind {
            PolicyKind::GlobalSession => {
                let rules = rules
                    .iter()
                    .map(|r| serde_json::from_value::<GlobalSessionRule>(r.body.clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| corrupt(format!("global session policy `{}`", policy.name), &e))?;
                document.global_session_policy = Some(GlobalSessionPolicy { rules });
            }
            PolicyKind::Enrollment => {
                let enrollment: EnrollmentPolicy = serde_json::from_value(policy.settings.clone())
                    .map_err(|e| corrupt(format!("enrollment policy `{}`", policy.name), &e))?;
                document.enrollment_policy = Some(enrollment);
            }
            PolicyKind::Authentication => {
                let rules = rules
                    .iter()
                    .map(|r| serde_json::from_value::<Rule>(r.body.clone()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| corrupt(format!("policy `{}`", policy.name), &e))?;
                let apps = store
                    .apps()
                    .using_policy(policy.id)
                    .await?
                    .into_iter()
                    .map(|a| a.client_id.as_str().to_owned())
                    .collect();
                document.authentication_policies.push(AuthenticationPolicy {
                    name: policy.name.as_str().to_owned(),
                    apps,
                    rules,
                });
            }
        }
    }
    Ok(document)
}

/// The stored policies, validated and compiled. Stored policies were validated when written, so
/// a failure here means the database was changed behind Gatehouse's back.
pub async fn compile(store: &Store) -> Result<PolicySet, ServerError> {
    let document = load_document(store).await?;
    PolicySet::compile(&document).map_err(|e| ServerError::Corrupt {
        what: "policies".to_owned(),
        reason: e.to_string(),
    })
}

/// What [`apply`] did, for the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub zones: usize,
    pub policies: usize,
    pub rules: usize,
    /// `client_id`s a policy names that no application has (nothing was linked for them).
    pub unknown_apps: Vec<String>,
}

/// Writes a (validated) policy document into the database inside `tx`: zones are created or
/// updated by name; each policy is created or its rules replaced; the apps a policy names are
/// pointed at it. Zones and policies the document does not mention are left alone.
pub async fn apply(
    tx: &mut Tx,
    document: &PolicyDocument,
    actor: &Actor,
    now: Timestamp,
) -> Result<ApplyReport, ServerError> {
    let mut report = ApplyReport::default();
    for zone in &document.network_zones {
        let name = ZoneName::parse(&zone.name).map_err(invalid)?;
        match tx.zones().by_name(name.key()).await? {
            Some(mut existing) => {
                existing.cidrs = zone.cidrs.clone();
                existing.blocked_cidrs = zone.blocked_cidrs.clone();
                existing.location = zone.location;
                existing.updated_at = now;
                tx.zones().update(&existing).await?;
            }
            None => {
                tx.zones()
                    .insert(&ZoneRecord {
                        id: new_id(),
                        name,
                        cidrs: zone.cidrs.clone(),
                        blocked_cidrs: zone.blocked_cidrs.clone(),
                        location: zone.location,
                        created_at: now,
                        updated_at: now,
                    })
                    .await?;
            }
        }
        report.zones += 1;
    }
    if let Some(gsp) = &document.global_session_policy {
        let bodies = gsp
            .rules
            .iter()
            .map(|r| (r.name.clone(), serde_json::to_value(r)))
            .collect::<Vec<_>>();
        report.rules += write_policy(tx, PolicyKind::GlobalSession, "default", json!({}), bodies, now)
            .await?
            .1;
        report.policies += 1;
    }
    if let Some(enrollment) = &document.enrollment_policy {
        let settings = serde_json::to_value(enrollment).map_err(|e| internal(&e))?;
        write_policy(tx, PolicyKind::Enrollment, "default", settings, Vec::new(), now).await?;
        report.policies += 1;
    }
    for policy in &document.authentication_policies {
        let bodies = policy
            .rules
            .iter()
            .map(|r| (r.name.clone(), serde_json::to_value(r)))
            .collect::<Vec<_>>();
        let (id, rules) = write_policy(
            tx,
            PolicyKind::Authentication,
            &policy.name,
            json!({}),
            bodies,
            now,
        )
        .await?;
        report.rules += rules;
        report.policies += 1;
        for client_id in &policy.apps {
            match tx.apps().by_client_id(client_id).await? {
                Some(app) => {
                    tx.apps().set_policy(app.id, Some(id), now).await?;
                }
                None => report.unknown_apps.push(client_id.clone()),
            }
        }
    }
    Event::new(event_types::POLICY_APPLY, actor.clone(), Outcome::Success)
        .detail("zones", report.zones)
        .detail("policies", report.policies)
        .detail("rules", report.rules)
        .append(tx, now)
        .await?;
    Ok(report)
}

/// Creates the policy (or finds it by kind and name), stores `settings`, and replaces its rules.
async fn write_policy(
    tx: &mut Tx,
    kind: PolicyKind,
    name: &str,
    settings: Value,
    rules: Vec<(String, Result<Value, serde_json::Error>)>,
    now: Timestamp,
) -> Result<(gatehouse_core::model::PolicyId, usize), ServerError> {
    let name = PolicyName::parse(name).map_err(invalid)?;
    let id = match tx.policies().by_name(kind, name.key()).await? {
        Some(mut existing) => {
            existing.settings = settings;
            existing.updated_at = now;
            tx.policies().update(&existing).await?;
            tx.policies().clear_rules(existing.id).await?;
            existing.id
        }
        None => {
            let policy = Policy {
                id: new_id(),
                kind,
                name,
                settings,
                created_at: now,
                updated_at: now,
            };
            tx.policies().insert(&policy).await?;
            policy.id
        }
    };
    let count = rules.len();
    for (position, (rule_name, body)) in (0_i64..).zip(rules) {
        let body = body.map_err(|e| internal(&e))?;
        tx.policies()
            .insert_rule(&PolicyRule {
                id: new_id(),
                policy_id: id,
                position,
                name: PolicyName::parse(&rule_name).map_err(invalid)?,
                body,
                created_at: now,
                updated_at: now,
            })
            .await?;
    }
    Ok((id, count))
}

fn invalid(e: gatehouse_core::CoreError) -> ServerError {
    ServerError::Config {
        what: "policy document".to_owned(),
        reason: e.to_string(),
    }
}

fn internal(e: &dyn std::fmt::Display) -> ServerError {
    ServerError::Store(StoreError::InvalidValue(e.to_string()))
}
