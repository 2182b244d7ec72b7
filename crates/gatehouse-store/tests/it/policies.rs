//! Policies, their ordered rules, and the authorization server's access rules.

use gatehouse_core::model::*;
use gatehouse_store::{Store, StoreError};

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(
    rules_keep_a_contiguous_order_through_inserts_and_deletes,
    reordering_is_all_or_nothing,
    policy_names_are_unique_per_kind,
    access_rules_are_listed_by_priority_then_name,
);

fn names(rules: &[PolicyRule]) -> Vec<String> {
    rules
        .iter()
        .map(|r| format!("{}@{}", r.name, r.position))
        .collect()
}

async fn rules_keep_a_contiguous_order_through_inserts_and_deletes(store: Store) {
    let finance = policy(PolicyKind::Authentication, "finance");
    let mut tx = store.begin().await.unwrap();
    tx.policies().insert(&finance).await.unwrap();
    assert_eq!(
        tx.policies()
            .insert_rule(&rule(finance.id, "employees", 0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tx.policies()
            .insert_rule(&rule(finance.id, "catch-all", 99))
            .await
            .unwrap(),
        1,
        "clamped"
    );
    let deny = rule(finance.id, "deny-contractors", 0);
    assert_eq!(tx.policies().insert_rule(&deny).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let rules = store.policies().rules(finance.id).await.unwrap();
    assert_eq!(
        names(&rules),
        ["deny-contractors@0", "employees@1", "catch-all@2"]
    );

    let mut tx = store.begin().await.unwrap();
    let err = tx
        .policies()
        .insert_rule(&rule(finance.id, "Employees", 1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "name" }), "{err}");
    drop(tx);

    let mut changed = rules[1].clone();
    changed.body = serde_json::json!({"name": "employees", "access": "deny"});
    let mut tx = store.begin().await.unwrap();
    assert!(tx.policies().update_rule(&changed).await.unwrap());
    assert!(tx.policies().delete_rule(finance.id, deny.id).await.unwrap());
    assert!(!tx.policies().delete_rule(finance.id, deny.id).await.unwrap());
    tx.commit().await.unwrap();
    let rules = store.policies().rules(finance.id).await.unwrap();
    assert_eq!(names(&rules), ["employees@0", "catch-all@1"]);
    assert_eq!(rules[0].body["access"], "deny");
    assert_eq!(
        store.policies().rule(finance.id, rules[1].id).await.unwrap(),
        Some(rules[1].clone())
    );

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.policies().clear_rules(finance.id).await.unwrap(), 2);
    assert!(tx.policies().delete(finance.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.policies().get(finance.id).await.unwrap(), None);
}

async fn reordering_is_all_or_nothing(store: Store) {
    let p = policy(PolicyKind::Authentication, "vault");
    let (a, b, c) = (rule(p.id, "a", 0), rule(p.id, "b", 1), rule(p.id, "c", 2));
    let mut tx = store.begin().await.unwrap();
    tx.policies().insert(&p).await.unwrap();
    for r in [&a, &b, &c] {
        tx.policies().insert_rule(r).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.policies()
            .reorder_rules(p.id, &[c.id, a.id], at(1))
            .await
            .unwrap(),
        "missing b"
    );
    assert!(
        !tx.policies()
            .reorder_rules(p.id, &[c.id, a.id, a.id], at(1))
            .await
            .unwrap(),
        "a twice"
    );
    let stranger = rule(p.id, "x", 0).id;
    assert!(
        !tx.policies()
            .reorder_rules(p.id, &[c.id, a.id, stranger], at(1))
            .await
            .unwrap()
    );
    assert!(
        tx.policies()
            .reorder_rules(p.id, &[c.id, a.id, b.id], at(1))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let rules = store.policies().rules(p.id).await.unwrap();
    assert_eq!(names(&rules), ["c@0", "a@1", "b@2"]);
}

async fn policy_names_are_unique_per_kind(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.policies()
        .insert(&policy(PolicyKind::Authentication, "default"))
        .await
        .unwrap();
    tx.policies()
        .insert(&policy(PolicyKind::GlobalSession, "Default"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .policies()
        .insert(&policy(PolicyKind::Authentication, "DEFAULT"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "name" }), "{err}");
    drop(tx);
    assert_eq!(store.policies().count().await.unwrap(), 2);
    let global = store
        .policies()
        .list(Some(PolicyKind::GlobalSession))
        .await
        .unwrap();
    assert_eq!(global.len(), 1);
    assert_eq!(global[0].name.as_str(), "Default");
    assert!(
        store
            .policies()
            .by_name(PolicyKind::Authentication, "default")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .policies()
            .by_name(PolicyKind::Enrollment, "default")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.policies().list(None).await.unwrap().len(), 2);
}

async fn access_rules_are_listed_by_priority_then_name(store: Store) {
    let rule = |name: &str, priority: i64| AccessRuleRecord {
        id: gatehouse_store::new_id(),
        name: PolicyName::parse(name).unwrap(),
        priority,
        body: serde_json::json!({"name": name, "priority": priority, "clients": [name]}),
        created_at: at(0),
        updated_at: at(0),
    };
    let (vault, cli, dashboard) = (rule("vault", 2), rule("cli", 1), rule("dashboard", 1));
    let mut tx = store.begin().await.unwrap();
    for r in [&vault, &cli, &dashboard] {
        tx.access_rules().insert(r).await.unwrap();
    }
    tx.commit().await.unwrap();
    let listed = store.access_rules().list().await.unwrap();
    let order: Vec<&str> = listed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["cli", "dashboard", "vault"]);
    assert_eq!(
        store.access_rules().by_name("VAULT").await.unwrap(),
        Some(vault.clone())
    );

    let mut first = vault.clone();
    first.priority = 0;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.access_rules().update(&first).await.unwrap());
    assert!(tx.access_rules().delete(cli.id).await.unwrap());
    tx.commit().await.unwrap();
    let order: Vec<String> = store
        .access_rules()
        .list()
        .await
        .unwrap()
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(order, ["vault", "dashboard"]);
    let mut tx = store.begin().await.unwrap();
    let err = tx.access_rules().insert(&rule("Dashboard", 5)).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "name" }), "{err}");
}
