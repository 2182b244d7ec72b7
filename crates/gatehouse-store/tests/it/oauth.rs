//! The OpenID Connect provider's records: single-use codes, refresh families with atomic
//! rotation, sealed signing keys with retirement, revoked access-token ids.

use gatehouse_store::{CodeRow, RefreshRow, SigningKeyRow, Store};
use serde_json::json;

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(
    a_code_is_redeemed_once,
    refresh_tokens_rotate_once_and_families_revoke_together,
    signing_keys_retire_and_leave_after_not_after,
    revoked_access_tokens_are_kept_until_they_expire
);

async fn a_code_is_redeemed_once(store: Store) {
    let alice = user("alice");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    let code = CodeRow {
        digest: "d1".into(),
        client_id: "dashboard".into(),
        user_id: alice.id,
        session_id: None,
        grant: json!({"scope": "openid"}).to_string(),
        created_at: at(10),
        expires_at: at(70),
        redeemed_at: None,
        family_id: None,
    };
    tx.oauth().insert_code(&code).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.oauth().code("d1").await.unwrap(), Some(code.clone()));
    assert_eq!(store.oauth().code("other").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.oauth().redeem_code("d1", at(20), Some("fam")).await.unwrap());
    assert!(
        !tx.oauth().redeem_code("d1", at(21), None).await.unwrap(),
        "second use loses"
    );
    tx.commit().await.unwrap();
    let stored = store.oauth().code("d1").await.unwrap().unwrap();
    assert_eq!(stored.redeemed_at, Some(at(20)));
    assert_eq!(stored.family_id.as_deref(), Some("fam"));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oauth().purge_codes(at(71)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(store.oauth().code("d1").await.unwrap(), None);
}

fn refresh(
    family: &str,
    digest: &str,
    user: gatehouse_core::model::UserId,
    session: gatehouse_core::model::SessionId,
) -> RefreshRow {
    RefreshRow {
        family_id: family.into(),
        digest: digest.into(),
        client_id: "dashboard".into(),
        user_id: user,
        session_id: Some(session),
        scope: "openid profile".into(),
        status: "active".into(),
        grant: json!({"auth_time": 1}).to_string(),
        created_at: at(10),
        issued_at: at(10),
        expires_at: at(1000),
    }
}

async fn refresh_tokens_rotate_once_and_families_revoke_together(store: Store) {
    let alice = user("alice");
    let s1 = session(alice.id, "tok-1");
    let s2 = session(alice.id, "tok-2");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.sessions().insert(&s1).await.unwrap();
    tx.sessions().insert(&s2).await.unwrap();
    let a = refresh("fam-a", "r1", alice.id, s1.id);
    tx.oauth().insert_refresh_family(&a).await.unwrap();
    tx.oauth()
        .insert_refresh_family(&refresh("fam-b", "r3", alice.id, s2.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.oauth().refresh_family("fam-a").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.oauth().refresh_family("fam-c").await.unwrap(), None);

    // r1 -> r2 once: the second rotation from r1 (a replay, or a concurrent refresh) loses, and
    // so does a rotation from a digest that was never the family's.
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.oauth()
            .rotate_refresh_token("fam-a", "r1", "r2", at(20), at(1020))
            .await
            .unwrap()
    );
    assert!(
        !tx.oauth()
            .rotate_refresh_token("fam-a", "r1", "r2x", at(21), at(1021))
            .await
            .unwrap(),
        "rotated once"
    );
    assert!(
        !tx.oauth()
            .rotate_refresh_token("fam-a", "nope", "r2y", at(21), at(1021))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let rotated = store.oauth().refresh_family("fam-a").await.unwrap().unwrap();
    assert_eq!(
        (
            rotated.digest.as_str(),
            rotated.issued_at,
            rotated.expires_at,
            rotated.created_at
        ),
        ("r2", at(20), at(1020), at(10))
    );
    assert_eq!(rotated.status, "active");

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oauth().revoke_family("fam-a").await.unwrap(), 1);
    assert_eq!(
        tx.oauth().revoke_family("fam-a").await.unwrap(),
        0,
        "already revoked"
    );
    assert!(
        !tx.oauth()
            .rotate_refresh_token("fam-a", "r2", "r3x", at(30), at(1030))
            .await
            .unwrap(),
        "a revoked family does not rotate"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .oauth()
            .refresh_family("fam-a")
            .await
            .unwrap()
            .unwrap()
            .status,
        "revoked"
    );
    assert_eq!(
        store
            .oauth()
            .refresh_family("fam-b")
            .await
            .unwrap()
            .unwrap()
            .status,
        "active"
    );

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oauth().revoke_of_session(s2.id).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let b = store.oauth().refresh_family("fam-b").await.unwrap().unwrap();
    assert_eq!(b.status, "revoked");
    assert_eq!(b.scope, "openid profile");
    assert_eq!(b.grant, json!({"auth_time": 1}).to_string());
}

async fn signing_keys_retire_and_leave_after_not_after(store: Store) {
    let key = |kid: &str, algorithm: &str, created: i64| SigningKeyRow {
        kid: kid.into(),
        algorithm: algorithm.into(),
        sealed: format!("sealed-{kid}"),
        status: "active".into(),
        created_at: at(created),
        not_after: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.oauth()
        .insert_signing_key(&key("es-1", "ES256", 1))
        .await
        .unwrap();
    tx.oauth()
        .insert_signing_key(&key("rs-1", "RS256", 1))
        .await
        .unwrap();
    assert_eq!(tx.oauth().retire_signing_keys("ES256", at(500)).await.unwrap(), 1);
    tx.oauth()
        .insert_signing_key(&key("es-2", "ES256", 2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let keys = store.oauth().signing_keys().await.unwrap();
    assert_eq!(keys[0].kid, "es-2", "newest first");
    let old = keys.iter().find(|k| k.kid == "es-1").unwrap();
    assert_eq!((old.status.as_str(), old.not_after), ("retiring", Some(at(500))));
    assert_eq!(keys.iter().find(|k| k.kid == "rs-1").unwrap().status, "active");

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oauth().purge_signing_keys(at(400)).await.unwrap(), 0);
    assert!(tx.oauth().reseal_signing_key("es-2", "resealed").await.unwrap());
    assert_eq!(tx.oauth().purge_signing_keys(at(501)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let kids: Vec<String> = store
        .oauth()
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(!kids.contains(&"es-1".to_owned()));
}

async fn revoked_access_tokens_are_kept_until_they_expire(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.oauth().revoke_access_token("jti-1", at(100)).await.unwrap();
    tx.oauth().revoke_access_token("jti-1", at(100)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.oauth().is_revoked("jti-1").await.unwrap());
    assert!(!store.oauth().is_revoked("jti-2").await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.oauth().purge_revoked(at(101)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(!store.oauth().is_revoked("jti-1").await.unwrap());
}
