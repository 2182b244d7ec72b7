//! Helpers shared by the test modules.

use std::path::PathBuf;

use gatehouse_policy::{CompiledPolicy, Format, PolicyDocument, PolicySet, check_text};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn repo_root() -> PathBuf {
    manifest_dir().join("../..")
}

/// A YAML document that must parse and validate.
pub fn document(yaml: &str) -> PolicyDocument {
    let report = check_text(yaml, Format::Yaml);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.document.unwrap()
}

/// The compiled policy for `app` in a YAML document.
pub fn policy(yaml: &str, app: &str) -> CompiledPolicy {
    let set = PolicySet::compile(&document(yaml)).unwrap();
    set.policy_for_app(app).unwrap().clone()
}
