use crate::support::{Options, TestServer};
use gatehouse_store::Dialect;

#[tokio::test]
async fn healthz_answers_ok_once_the_demo_is_seeded_on_both_backends() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let server = TestServer::start(Options {
            dialect,
            ..Options::default()
        })
        .await;
        let res = server.client().get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let doc = gatehouse_server::directory::load_document(server.state.store())
            .await
            .unwrap();
        let names: Vec<&str> = doc
            .authentication_policies
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        let finance = doc.policy_for_app("finance").unwrap();
        assert_eq!(finance.name, "finance");
        assert_eq!(finance.rules.len(), 3);
        server.stop().await;
    }
}
