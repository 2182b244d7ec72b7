//! Evaluation behaviour, one rule of DESIGN 4.2/4.3 per test, through the public API the flow
//! engine uses.

use gatehouse_policy::{
    AuthenticatorKey as K, Constraint, DeviceFacts, Enrollment, EnrollmentStatus, EvaluationInput,
    Method as M, Outcome, RequestContext, RiskLevel, StepUp, UserContext, UserVerification as Uv,
    VerificationFacts, VerificationRecord, evaluate,
};
use jiff::{SignedDuration, Timestamp};

use crate::support::policy;

fn now() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn ctx(login: &str, groups: &[&str], ip: &str) -> RequestContext {
    RequestContext {
        user: UserContext {
            login: login.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        },
        ip: ip.parse().unwrap(),
        device: None,
        risk: RiskLevel::Low,
    }
}

fn record(key: K, method: M, minutes_ago: i64, in_flow: bool) -> VerificationRecord {
    VerificationRecord::new(
        key,
        method,
        &VerificationFacts::default(),
        now() - SignedDuration::from_mins(minutes_ago),
        in_flow,
    )
    .unwrap()
}

fn run(
    p: &gatehouse_policy::CompiledPolicy,
    c: &RequestContext,
    enrollments: &[Enrollment],
    records: &[VerificationRecord],
) -> gatehouse_policy::Decision {
    evaluate(
        p,
        &EvaluationInput {
            context: c,
            enrollments,
            records,
            now: now(),
            step_up: None,
        },
    )
}

const ZONES: &str = "version: 1\nnetwork_zones:\n  - name: corp\n    cidrs: [10.0.0.0/8]\n  - name: lab\n    cidrs: [10.9.0.0/16]\n";

const CHAIN: &str = "version: 1
authentication_policies:
  - name: app
    apps: [app]
    rules:
      - name: all
        access: allow
        require:
          chains:
            - steps:
                - [ {authenticator: password} ]
                - [ {authenticator: totp} ]
              reauthenticate: PT4H
";

#[test]
fn conditions_match_groups_zones_and_mapped_addresses() {
    let yaml = format!(
        "{ZONES}authentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: corp-not-lab\n        when: {{ network: {{ include: [corp], exclude: [lab] }}, groups: {{ include: [everyone], exclude: [contractors] }} }}\n        access: deny\n      - name: rest\n        access: allow\n        require: {{ assurance: {{ factors: 1 }} }}\n"
    );
    let p = policy(&yaml, "app");
    let deny = |c: &RequestContext| run(&p, c, &[], &[]).rule.to_string();
    assert_eq!(deny(&ctx("a", &[], "10.1.2.3")), "corp-not-lab");
    assert_eq!(
        deny(&ctx("a", &[], "::ffff:10.1.2.3")),
        "corp-not-lab",
        "IPv4-mapped IPv6 matches IPv4 zones"
    );
    assert_eq!(deny(&ctx("a", &[], "10.9.0.1")), "rest");
    assert_eq!(deny(&ctx("a", &["contractors"], "10.1.2.3")), "rest");
    assert_eq!(deny(&ctx("a", &[], "192.0.2.1")), "rest");
}

#[test]
fn logins_match_case_insensitively_and_device_conditions_need_a_proven_device() {
    let yaml = "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: alice-managed\n        when: { users: { include: [Alice] }, device: { managed: true, platform: [macos] } }\n        access: deny\n      - name: rest\n        access: allow\n        require: { assurance: { factors: 1 } }\n";
    let p = policy(yaml, "app");
    let mut c = ctx("ALICE", &[], "192.0.2.1");
    let d = run(&p, &c, &[], &[]);
    assert_eq!(&*d.rule, "rest", "an unproven device is not managed");
    let reason = serde_json::to_value(&d.trace).unwrap()[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("has not proved itself"), "{reason}");
    c.device = Some(DeviceFacts {
        registered: true,
        managed: true,
        platform: Some(gatehouse_policy::Platform::Macos),
        ..DeviceFacts::default()
    });
    assert_eq!(&*run(&p, &c, &[], &[]).rule, "alice-managed");
}

#[test]
fn chain_steps_must_be_met_in_order_by_newer_records() {
    let p = policy(CHAIN, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let enrolled = [Enrollment::new(K::Password), Enrollment::new(K::Totp)];
    // TOTP before the password does not count for step 2.
    let d = run(
        &p,
        &c,
        &enrolled,
        &[
            record(K::Totp, M::Otp, 10, true),
            record(K::Password, M::Password, 5, true),
        ],
    );
    assert_eq!(d.kind(), "continue");
    assert_eq!(d.options()[0].authenticator, K::Totp);
    // In order: allow, satisfied by both records.
    let d = run(
        &p,
        &c,
        &enrolled,
        &[
            record(K::Password, M::Password, 10, true),
            record(K::Totp, M::Otp, 5, true),
        ],
    );
    let Outcome::Allow(allow) = &d.outcome else {
        panic!("{d:?}")
    };
    assert_eq!(allow.satisfied_by, vec![0, 1]);
}

#[test]
fn reauthentication_windows() {
    let p = policy(CHAIN, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let enrolled = [Enrollment::new(K::Password), Enrollment::new(K::Totp)];
    // A password from an earlier flow an hour ago is inside PT4H: straight to step 2.
    let d = run(&p, &c, &enrolled, &[record(K::Password, M::Password, 60, false)]);
    assert_eq!(
        d.options().iter().map(|o| o.authenticator).collect::<Vec<_>>(),
        vec![K::Totp]
    );
    // Five hours ago is outside: start again.
    let d = run(&p, &c, &enrolled, &[record(K::Password, M::Password, 300, false)]);
    assert_eq!(
        d.options().iter().map(|o| o.authenticator).collect::<Vec<_>>(),
        vec![K::Password]
    );

    let every = CHAIN.replace("PT4H", "every_sign_in");
    let p = policy(&every, "app");
    let d = run(&p, &c, &enrolled, &[record(K::Password, M::Password, 1, false)]);
    assert_eq!(
        d.options()[0].authenticator,
        K::Password,
        "every_sign_in counts only this flow"
    );

    let session = CHAIN.replace("PT4H", "no_session");
    let p = policy(&session, "app");
    let d = run(
        &p,
        &c,
        &enrolled,
        &[
            record(K::Password, M::Password, 2000, false),
            record(K::Totp, M::Otp, 1900, false),
        ],
    );
    assert!(d.is_allow(), "no_session: a live session is not prompted again");
}

#[test]
fn options_list_only_enrolled_and_active_authenticators() {
    let yaml = "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: mfa\n        access: allow\n        require: { assurance: { factors: 2 } }\n";
    let p = policy(yaml, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let mut sms = Enrollment::new(K::Phone);
    sms.methods = vec![M::Sms];
    let mut inactive = Enrollment::new(K::Totp);
    inactive.status = EnrollmentStatus::Inactive;
    let d = run(&p, &c, &[Enrollment::new(K::Password), sms, inactive], &[]);
    let offered: Vec<(K, M)> = d.options().iter().map(|o| (o.authenticator, o.method)).collect();
    assert_eq!(offered, vec![(K::Password, M::Password), (K::Phone, M::Sms)]);
}

#[test]
fn a_totp_code_never_satisfies_two_factors_but_a_passkey_with_uv_does() {
    let yaml = "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: mfa\n        access: allow\n        require: { assurance: { factors: 2 } }\n";
    let p = policy(yaml, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let enrolled = [Enrollment::new(K::Password), Enrollment::new(K::Totp)];
    assert!(!run(&p, &c, &enrolled, &[record(K::Totp, M::Otp, 1, true)]).is_allow());
    let passkey = VerificationRecord::new(
        K::Webauthn,
        M::Webauthn,
        &VerificationFacts {
            user_verification: Uv::Any,
            ..VerificationFacts::default()
        },
        now(),
        true,
    )
    .unwrap();
    assert!(run(&p, &c, &enrolled, &[passkey]).is_allow());
}

#[test]
fn an_option_refuses_a_verification_that_misses_its_constraint() {
    let p = policy(
        "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: r\n        access: allow\n        require:\n          chains: [ { steps: [ [ {authenticator: webauthn, user_verification: any} ] ] } ]\n",
        "app",
    );
    let mut key = Enrollment::new(K::Webauthn);
    key.user_verification = Uv::Any;
    let d = run(&p, &ctx("u", &[], "192.0.2.1"), &[key], &[]);
    let option = &d.options()[0];
    let without_uv = record(K::Webauthn, M::Webauthn, 0, true);
    let refusal = option.accepts(&without_uv).unwrap_err();
    assert_eq!(refusal.constraint, Some(Constraint::UserVerification));
    assert!(
        refusal.message.contains("requires user verification"),
        "{refusal}"
    );
    let with_uv = VerificationRecord::new(
        K::Webauthn,
        M::Webauthn,
        &VerificationFacts {
            user_verification: Uv::Any,
            ..VerificationFacts::default()
        },
        now(),
        true,
    )
    .unwrap();
    assert!(option.accepts(&with_uv).is_ok());
    assert!(
        option
            .accepts(&record(K::Password, M::Password, 0, true))
            .is_err()
    );
}

#[test]
fn step_up_adds_to_the_rule_and_never_weakens_it() {
    let p = policy(CHAIN, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let mut passkey = Enrollment::new(K::Webauthn);
    passkey.hardware_protected = true;
    let enrolled = [Enrollment::new(K::Password), Enrollment::new(K::Totp), passkey];
    let records = [
        record(K::Password, M::Password, 10, true),
        record(K::Totp, M::Otp, 5, true),
    ];
    let input = |step_up: Option<&StepUp>| {
        evaluate(
            &p,
            &EvaluationInput {
                context: &c,
                enrollments: &enrolled,
                records: &records,
                now: now(),
                step_up,
            },
        )
    };
    assert!(input(None).is_allow());
    let phrh = StepUp {
        hardware_protected: true,
        ..StepUp::default()
    };
    let d = input(Some(&phrh));
    assert_eq!(d.kind(), "continue");
    assert_eq!(d.options()[0].authenticator, K::Webauthn);
    assert!(d.options()[0].constraints.hardware_protected);
    // A weaker step-up than the rule changes nothing.
    let one = StepUp {
        min_factors: 1,
        ..StepUp::default()
    };
    assert!(input(Some(&one)).is_allow());
    // max_age drops old records for every requirement.
    let fresh = StepUp {
        max_age: Some(std::time::Duration::from_secs(6 * 60)),
        ..StepUp::default()
    };
    assert_eq!(input(Some(&fresh)).options()[0].authenticator, K::Password);
}

const VAULT: &str = "version: 1
authentication_policies:
  - name: vault
    apps: [vault]
    rules:
      - name: biometric
        access: allow
        require:
          assurance: { factors: 2, possession: { user_verification: biometric } }
";

#[test]
fn a_biometric_key_is_remediated_only_on_a_biometric_capable_device() {
    let p = policy(VAULT, "vault");
    let c = ctx("u", &[], "192.0.2.1");
    let mut device = Enrollment::new(K::Device);
    device.id = Some("dev-1".to_owned());
    // Not capable, and the device in use has not proved itself: no biometric key; a new device
    // enrollment cannot promise biometrics either, so nothing helps.
    let d = run(&p, &c, &[Enrollment::new(K::Password), device.clone()], &[]);
    assert_eq!(d.kind(), "deny", "{:?}", d.enroll());
    // Capable: the key on that enrollment is the remediation, named by its id.
    device.biometric_capable = true;
    let d = run(&p, &c, &[Enrollment::new(K::Password), device], &[]);
    let enroll = d.enroll();
    assert_eq!(enroll[0].kind, gatehouse_policy::EnrollKind::UserVerificationKey);
    assert_eq!(enroll[0].enrollment_id.as_deref(), Some("dev-1"));
    assert_eq!(enroll[0].constraints.user_verification, Uv::Biometric);
}

#[test]
fn remediation_respects_the_enrollment_policy_and_never_offers_smart_cards() {
    let restricted = format!("{VAULT}enrollment_policy: {{ allowed: [password, totp, smart_card] }}\n");
    let p = policy(&restricted, "vault");
    let mut c = ctx("u", &[], "192.0.2.1");
    c.device = Some(DeviceFacts {
        biometric_capable: true,
        secure_hardware: true,
        ..DeviceFacts::default()
    });
    let d = run(&p, &c, &[Enrollment::new(K::Password)], &[]);
    assert_eq!(
        d.kind(),
        "deny",
        "device is not allowed and smart cards are not enrolled inline"
    );
    // With devices allowed, an unregistered biometric-capable device may enroll.
    let p = policy(VAULT, "vault");
    let d = run(&p, &c, &[Enrollment::new(K::Password)], &[]);
    let keys: Vec<K> = d.enroll().iter().map(|e| e.authenticator).collect();
    assert_eq!(keys, vec![K::Device]);
    // A registered device gains a key, not a second enrollment.
    c.device.as_mut().unwrap().registered = true;
    let d = run(&p, &c, &[Enrollment::new(K::Password)], &[]);
    assert_eq!(d.kind(), "deny");
}

#[test]
fn number_matching_is_carried_by_device_push_options_only() {
    let yaml = "version: 1
authentication_policies:
  - name: app
    apps: [app]
    rules:
      - name: all
        access: allow
        require:
          assurance:
            factors: 2
            possession: { number_matching: true }
";
    let p = policy(yaml, "app");
    let c = ctx("u", &[], "192.0.2.1");
    let enrolled = [
        Enrollment::new(K::Password),
        Enrollment::new(K::Totp),
        Enrollment::new(K::Device),
    ];
    let d = run(&p, &c, &enrolled, &[record(K::Password, M::Password, 1, true)]);
    assert_eq!(d.kind(), "continue");
    let options = d.options();
    let push = options
        .iter()
        .find(|o| o.authenticator == K::Device && o.method == M::Push)
        .expect("push offered");
    assert!(push.constraints.number_matching);
    for other in options.iter().filter(|o| o.method != M::Push) {
        assert!(!other.constraints.number_matching, "{other:?}");
    }
    // Not a characteristic: a push record without it still satisfies the rule.
    let d = run(
        &p,
        &c,
        &enrolled,
        &[
            record(K::Password, M::Password, 2, true),
            record(K::Device, M::Push, 1, true),
        ],
    );
    assert_eq!(d.kind(), "allow");
}

#[test]
fn a_policy_reads_the_risk_level_only_when_a_rule_matches_on_it() {
    let plain = "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: rest\n        access: allow\n        require: { assurance: { factors: 1 } }\n";
    assert!(!policy(plain, "app").reads_risk());
    let risky = "version: 1\nauthentication_policies:\n  - name: p\n    apps: [app]\n    rules:\n      - name: block-risky\n        when: { risk: [high] }\n        access: deny\n      - name: rest\n        access: allow\n        require: { assurance: { factors: 1 } }\n";
    let p = policy(risky, "app");
    assert!(p.reads_risk());
    let high = RequestContext {
        risk: RiskLevel::High,
        ..ctx("a", &[], "192.0.2.1")
    };
    assert_eq!(run(&p, &high, &[], &[]).rule.to_string(), "block-risky");
    assert_eq!(
        run(&p, &ctx("a", &[], "192.0.2.1"), &[], &[]).rule.to_string(),
        "rest"
    );
}
