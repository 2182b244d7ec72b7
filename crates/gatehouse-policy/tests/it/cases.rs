//! Policy tests as data: each directory of `tests/cases/` holds `policy.yaml`, `context.json` and
//! `expected.json` (`app`, then the fields of the `--json` output that must match exactly, and
//! optionally `message_contains`). The whole output is also snapshotted.

use gatehouse_policy::simulate::{Simulation, decision_json, decision_output};
use gatehouse_policy::{Format, PolicySet, check_text};
use serde_json::Value;

use crate::support::manifest_dir;

#[test]
fn every_case_gives_its_expected_decision() {
    let dir = manifest_dir().join("tests/cases");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "the cases directory lost cases: {names:?}");
    for name in names {
        let case = dir.join(&name);
        let policy_text = std::fs::read_to_string(case.join("policy.yaml")).unwrap();
        let context_text = std::fs::read_to_string(case.join("context.json")).unwrap();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap()).unwrap();

        let report = check_text(&policy_text, Format::Yaml);
        assert!(!report.has_errors(), "{name}: {:#?}", report.diagnostics);
        let set = PolicySet::compile(report.document.as_ref().unwrap()).unwrap();
        let app = expected["app"].as_str().unwrap();
        let policy = set
            .policy_for_app(app)
            .unwrap_or_else(|| panic!("{name}: no policy for {app}"));
        let simulation = Simulation::parse(&context_text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let decision = simulation.run(policy);
        let output = decision_json(&decision);

        for (key, want) in expected.as_object().unwrap() {
            match key.as_str() {
                "app" => {}
                "message_contains" => {
                    let message = output["message"].as_str().unwrap_or_default();
                    assert!(
                        message.contains(want.as_str().unwrap()),
                        "{name}: message `{message}`"
                    );
                }
                field => assert_eq!(&output[field], want, "{name}: field `{field}` of {output:#}"),
            }
        }
        // Determinism: the same input gives the same output, trace included.
        assert_eq!(decision_json(&simulation.run(policy)), output, "{name}");
        insta::assert_json_snapshot!(name.as_str(), decision_output(&decision));
    }
}
