//! `policy import --from okta`: Okta's rule shapes into the Gatehouse model, OR-ed constraint
//! objects into `any_of`, and everything untranslatable reported.

use gatehouse_policy::okta::{import_okta, to_yaml};
use gatehouse_policy::{
    AuthenticatorKey as K, Format, Method as M, PolicyError, Reauthenticate, UserVerification, check_text,
};

use crate::support::manifest_dir;

fn fixture() -> String {
    std::fs::read_to_string(manifest_dir().join("tests/data/okta-access-policy.json")).unwrap()
}

#[test]
fn rules_are_ordered_by_priority_with_the_catch_all_last() {
    let import = import_okta(&fixture()).unwrap();
    let policy = &import.document.authentication_policies[0];
    assert_eq!(policy.name, "Web Cart App Sign On Policy");
    let names: Vec<&str> = policy.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Either device-bound with password, or hardware alone",
            "Mobile password",
            "Chains",
            "Catch-all Rule"
        ]
    );
    assert!(
        import.notes.iter().any(|n| n.contains("`Old` is INACTIVE")),
        "{:#?}",
        import.notes
    );
}

#[test]
fn ored_constraint_objects_become_any_of() {
    let import = import_okta(&fixture()).unwrap();
    let rule = &import.document.authentication_policies[0].rules[0];
    let a = rule.require.as_ref().unwrap().assurance.as_ref().unwrap();
    assert_eq!(a.factors, 2);
    let any_of = a.any_of.as_ref().unwrap();
    assert_eq!(any_of.len(), 2);
    let first = &any_of[0];
    assert_eq!(
        first.knowledge.as_ref().unwrap().authenticators[0].authenticator,
        K::Password
    );
    assert!(first.possession.as_ref().unwrap().device_bound);
    assert!(
        first.possession.as_ref().unwrap().user_presence,
        "Okta's userPresence defaults to REQUIRED"
    );
    assert_eq!(
        first.reauthenticate,
        Some(Reauthenticate::Within("PT2H".parse().unwrap()))
    );
    let second = any_of[1].possession.as_ref().unwrap();
    assert!(second.hardware_protected && !second.user_presence);
    // The exclusion zone is kept as a stub to fill in, and the EL condition is reported.
    assert_eq!(import.document.network_zones[0].name, "nzowc1U5Jh5xuAK0o0g3");
    assert!(
        import.notes.iter().any(|n| n.contains("security.risk.level")),
        "{:#?}",
        import.notes
    );
}

#[test]
fn conditions_and_chains_translate() {
    let import = import_okta(&fixture()).unwrap();
    let rules = &import.document.authentication_policies[0].rules;
    let mobile = &rules[1];
    let platforms = mobile
        .when
        .as_ref()
        .unwrap()
        .device
        .as_ref()
        .unwrap()
        .platform
        .clone()
        .unwrap();
    assert_eq!(platforms.len(), 2);
    let knowledge = mobile
        .require
        .as_ref()
        .unwrap()
        .assurance
        .as_ref()
        .unwrap()
        .knowledge
        .as_ref()
        .unwrap();
    assert_eq!(knowledge.authenticators[0].authenticator, K::Password);

    let chains = rules[2].require.as_ref().unwrap().chains.as_ref().unwrap();
    assert_eq!(chains.len(), 2, "the `tac` chain cannot be translated");
    assert_eq!(chains[0].steps[1][0].method, Some(M::Sms));
    assert_eq!(chains[1].steps[0][0].method, Some(M::Fastpass));
    assert_eq!(
        chains[1].steps[0][0].user_verification,
        UserVerification::Biometric
    );
    assert_eq!(
        rules[2].require.as_ref().unwrap().reauthenticate,
        Some(Reauthenticate::Within("PT2H10M".parse().unwrap()))
    );
    assert!(
        import.notes.iter().any(|n| n.contains("`tac`")),
        "{:#?}",
        import.notes
    );
    assert!(
        import.notes.iter().any(|n| n.contains("keepMeSignedIn")),
        "{:#?}",
        import.notes
    );
}

#[test]
fn the_output_is_a_policy_file_that_checks() {
    let import = import_okta(&fixture()).unwrap();
    let yaml = to_yaml(&import).unwrap();
    assert!(
        yaml.starts_with("# Imported from an Okta ACCESS_POLICY"),
        "{yaml}"
    );
    let report = check_text(&yaml, Format::Yaml);
    assert!(!report.has_errors(), "{:#?}\n{yaml}", report.diagnostics);
}

#[test]
fn other_inputs_are_refused_clearly() {
    assert!(matches!(import_okta("not json"), Err(PolicyError::Okta(_))));
    let err = import_okta(r#"{"type": "OKTA_SIGN_ON", "rules": []}"#).unwrap_err();
    assert!(
        err.to_string().contains("`OKTA_SIGN_ON` is not supported"),
        "{err}"
    );
    // A rule whose requirement cannot be expressed fails closed.
    let import = import_okta(
        r#"[{"name": "idv", "actions": {"appSignOn": {"access": "ALLOW", "verificationMethod": {"type": "ID_PROOFING"}}}}]"#,
    )
    .unwrap();
    assert_eq!(
        import.document.authentication_policies[0].rules[0].access,
        gatehouse_policy::Access::Deny
    );
}
