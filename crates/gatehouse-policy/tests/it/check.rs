//! What `policy check` reports: one test per rule of DESIGN 4.1 / issue 2, with the line it
//! points at; pieces validated on their own (as the admin API does) with relative paths; and
//! the document types both ways through YAML and JSON.

use gatehouse_policy::validate::{Scope, validate_authentication_policy, validate_rule};
use gatehouse_policy::{
    AuthenticationPolicy, Diagnostic, DiagnosticCode as Code, Format, NetworkZone, PolicyDocument, Rule,
    Severity, check_text, parse,
};

use crate::support::repo_root;

fn diagnostics(yaml: &str) -> Vec<Diagnostic> {
    check_text(yaml, Format::Yaml).diagnostics
}

fn only(yaml: &str, code: Code) -> Diagnostic {
    let found: Vec<Diagnostic> = diagnostics(yaml).into_iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "expected one {code:?}, got {found:#?}");
    found.into_iter().next().unwrap()
}

const HEAD: &str = "version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [10.0.0.0/8]\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n";

fn with_rules(rules: &str) -> String {
    format!("{HEAD}{rules}")
}

const CATCH_ALL: &str = "      - name: last\n        access: deny\n";

#[test]
fn duration_written_in_words_names_line_and_expected_form() {
    let text = with_rules(
        "      - name: r\n        access: allow\n        require:\n          assurance: { factors: 1 }\n          reauthenticate: 4 hours\n",
    );
    let report = check_text(&text, Format::Yaml);
    let [d] = report.diagnostics.as_slice() else {
        panic!("{:#?}", report.diagnostics)
    };
    assert_eq!(d.location.unwrap().line, 13);
    assert!(
        d.message.contains("expected an ISO-8601 duration such as PT4H"),
        "{d}"
    );
    assert!(d.message.contains("`4 hours`"), "{d}");
}

#[test]
fn months_and_years_are_refused() {
    let text = with_rules(
        "      - name: r\n        access: allow\n        require:\n          assurance: { factors: 1 }\n          reauthenticate: P1M\n",
    );
    let d = &diagnostics(&text)[0];
    assert!(d.message.contains("months and years are not allowed"), "{d}");
}

#[test]
fn a_policy_without_final_catch_all_is_an_error() {
    let text = with_rules(
        "      - name: only-employees\n        when: { groups: { include: [employees] } }\n        access: deny\n",
    );
    let d = only(&text, Code::NoCatchAll);
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.location.unwrap().line, 9);
    assert!(d.message.contains("catch-all"), "{d}");
}

#[test]
fn assurance_and_chains_together_is_an_error() {
    let text = with_rules(
        "      - name: both\n        access: allow\n        require:\n          assurance: { factors: 1 }\n          chains: [ { steps: [ [ {authenticator: password} ] ] } ]\n",
    );
    let d = only(&text, Code::AssuranceAndChains);
    assert_eq!(d.path, "authentication_policies[0].rules[0].require");
    assert_eq!(d.location.unwrap().line, 12);
}

#[test]
fn unknown_zone_authenticator_and_method_are_errors() {
    let zone = with_rules(&format!(
        "      - name: r\n        when: {{ network: {{ exclude: [tor-exits] }} }}\n        access: deny\n{CATCH_ALL}"
    ));
    let d = only(&zone, Code::UnknownZone);
    assert!(
        d.message.contains("`tor-exits`") && d.message.contains("`corp`"),
        "{d}"
    );
    assert_eq!(d.location.unwrap().line, 10);

    let key = with_rules(
        "      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: yubikey} ] ] } ]\n",
    );
    let d = &diagnostics(&key)[0];
    assert_eq!(d.code, Code::Syntax);
    assert!(d.message.contains("unknown variant `yubikey`"), "{d}");
    assert_eq!(d.location.unwrap().line, 12);

    let method = with_rules(
        "      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: totp, method: sms} ] ] } ]\n",
    );
    let d = only(&method, Code::MethodMismatch);
    assert!(d.message.contains("`sms`") && d.message.contains("`totp`"), "{d}");
}

#[test]
fn invalid_cidrs_are_errors_with_their_line() {
    let text = "version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [10.1.2.3/8]\n";
    let d = &diagnostics(text)[0];
    assert_eq!(d.location.unwrap().line, 4);
    assert!(d.message.contains("did you mean `10.0.0.0/8`"), "{d}");
    let d = &diagnostics("version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [corp-net]\n")[0];
    assert!(d.message.contains("expected an IPv4 or IPv6 CIDR"), "{d}");
}

#[test]
fn a_constraint_no_listed_authenticator_can_prove_is_an_error() {
    let chain = with_rules(
        "      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: totp, user_verification: biometric} ] ] } ]\n",
    );
    let d = only(&chain, Code::UnprovableConstraint);
    assert!(
        d.message.contains("`totp` cannot prove") && d.message.contains("biometric"),
        "{d}"
    );

    let assurance = with_rules(
        "      - name: r\n        access: allow\n        require:\n          assurance:\n            factors: 2\n            possession: { user_verification: biometric }\n            exclude: [device]\n",
    );
    let d = only(&assurance, Code::UnprovableConstraint);
    assert_eq!(
        d.path,
        "authentication_policies[0].rules[0].require.assurance.possession"
    );
}

#[test]
fn factors_outside_one_and_two_are_errors() {
    for factors in [0, 3] {
        let text = with_rules(&format!(
            "      - name: r\n        access: allow\n        require:\n          assurance: {{ factors: {factors} }}\n"
        ));
        let d = only(&text, Code::FactorsOutOfRange);
        assert_eq!(d.location.unwrap().line, 12, "{d}");
    }
}

#[test]
fn shadowed_rules_and_unsatisfiable_chain_options_are_warnings() {
    let text = with_rules(&format!(
        "      - name: corp\n        when: {{ network: {{ include: [corp] }} }}\n        access: deny\n      - name: corp-employees\n        when: {{ network: {{ include: [corp] }}, groups: {{ include: [employees] }} }}\n        access: deny\n{CATCH_ALL}"
    ));
    let report = check_text(&text, Format::Yaml);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == Code::ShadowedRule)
        .unwrap();
    assert_eq!(d.severity, Severity::Warning);
    assert!(
        d.message.contains("`corp-employees` can never match") && d.message.contains("`corp`"),
        "{d}"
    );
    assert_eq!(d.location.unwrap().line, 12);

    // A rule after the catch-all is shadowed too; a narrower rule before a broader one is not.
    let text = with_rules(&format!(
        "      - name: narrow\n        when: {{ groups: {{ include: [a] }} }}\n        access: deny\n      - name: broad\n        when: {{ groups: {{ include: [a, b] }} }}\n        access: deny\n{CATCH_ALL}      - name: after\n        access: deny\n"
    ));
    let shadowed: Vec<String> = diagnostics(&text)
        .into_iter()
        .filter(|d| d.code == Code::ShadowedRule)
        .map(|d| d.path)
        .collect();
    assert_eq!(shadowed, vec!["authentication_policies[0].rules[3]"]);

    let text = "version: 1\nenrollment_policy: { allowed: [password] }\nauthentication_policies:\n  - name: p\n    apps: [a]\n    rules:\n      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: password} ], [ {authenticator: phone, method: sms} ] ] } ]\n";
    let d = check_text(text, Format::Yaml)
        .diagnostics
        .into_iter()
        .find(|d| d.code == Code::UnsatisfiableOption)
        .unwrap();
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.path,
        "authentication_policies[0].rules[0].require.chains[0].steps[1][0]"
    );
}

#[test]
fn allow_without_require_and_unknown_fields_are_errors() {
    only(
        &with_rules("      - name: r\n        access: allow\n"),
        Code::MissingRequirement,
    );
    let text = with_rules(
        "      - name: r\n        access: allow\n        require:\n          assurance: { factors: 1, possesion: { device_bound: true } }\n",
    );
    let d = &diagnostics(&text)[0];
    assert!(d.message.contains("unknown field `possesion`"), "{d}");
}

#[test]
fn every_example_file_passes_check() {
    let dir = repo_root().join("examples/policies");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let report = check_text(&text, Format::detect(Some(&name), &text));
        assert!(!report.has_errors(), "{name}: {:#?}", report.diagnostics);
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} example policies");
}

#[test]
fn pieces_validate_on_their_own_with_relative_paths() {
    let json = r#"{"name": "finance", "apps": ["finance"], "rules": [
        {"name": "corp", "when": {"network": {"include": ["corp", "vpn"]}}, "access": "allow",
         "require": {"assurance": {"factors": 2}, "reauthenticate": "PT4H"}},
        {"name": "rest", "access": "deny"}]}"#;
    let policy: AuthenticationPolicy = parse(json, Format::Json).unwrap();
    let scope = Scope::new(["corp"], None);
    let diagnostics = validate_authentication_policy(&policy, &scope);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0].path, "rules[0].when.network.include[1]");
    assert_eq!(diagnostics[0].code, Code::UnknownZone);

    let rule: Rule = parse(
        r#"{"name": "r", "access": "allow", "require": {"assurance": {"factors": 2}, "chains": []}}"#,
        Format::Json,
    )
    .unwrap();
    let d = validate_rule(&rule, &scope);
    assert!(
        d.iter()
            .any(|d| d.code == Code::AssuranceAndChains && d.path == "require"),
        "{d:#?}"
    );

    let zone: Result<NetworkZone, _> = parse(r#"{"name": "corp", "cidrs": ["10.0.0.1/8"]}"#, Format::Json);
    let err = zone.unwrap_err();
    assert!(err.message.contains("host bits are set"), "{err}");
    assert_eq!(err.location.unwrap().line, 1);
}

#[test]
fn documents_round_trip_through_yaml_and_json() {
    let text = std::fs::read_to_string(repo_root().join("examples/policies/design-4.1.yaml")).unwrap();
    let doc: PolicyDocument = parse(&text, Format::Yaml).unwrap();
    let json = serde_json::to_string(&doc).unwrap();
    let from_json: PolicyDocument = parse(&json, Format::Json).unwrap();
    assert_eq!(doc, from_json);
    let yaml = yaml_serde::to_string(&doc).unwrap();
    let from_yaml: PolicyDocument = parse(&yaml, Format::Yaml).unwrap();
    assert_eq!(doc, from_yaml);
    // Durations and CIDRs keep their canonical text.
    assert!(json.contains(r#""reauthenticate":"PT4H""#), "{json}");
    assert!(json.contains(r#""2001:db8::/32""#), "{json}");
}

#[test]
fn json_files_report_lines_too() {
    let text = "{\n  \"version\": 1,\n  \"authentication_policies\": [\n    {\"name\": \"p\", \"apps\": [\"a\"], \"rules\": [\n      {\"name\": \"r\", \"when\": {\"groups\": {\"include\": [\"x\"]}}, \"access\": \"deny\"}\n    ]}\n  ]\n}\n";
    let report = check_text(text, Format::Json);
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == Code::NoCatchAll)
        .unwrap();
    assert_eq!(d.location.unwrap().line, 5);
    let bad = check_text(
        "{\n  \"version\": 1,\n  \"authentication_policies\": [}\n",
        Format::Json,
    );
    assert_eq!(bad.diagnostics[0].location.unwrap().line, 3);
}

#[test]
fn number_matching_belongs_to_device_push() {
    let totp = with_rules(
        "      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: totp, number_matching: true} ] ] } ]\n",
    );
    let d = only(&totp, Code::MethodMismatch);
    assert!(d.message.contains("`device` `push`"), "{d}");
    assert!(d.path.ends_with("number_matching"), "{d:?}");
    let push = with_rules(
        "      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: device, method: push, number_matching: true} ] ] } ]\n",
    );
    assert!(
        diagnostics(&push).iter().all(|d| d.severity != Severity::Error),
        "{:#?}",
        diagnostics(&push)
    );
}
