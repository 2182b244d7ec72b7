//! Cost of policy evaluation on the sign-in hot path (issue 2's targets on this machine): a
//! 10-rule policy with a typical context (median ≤ 2 µs), a 1,000-rule policy whose match is the
//! last rule (≤ 50 µs), and parsing plus validating a 1,000-rule policy file (≤ 20 ms).
//!
//! `cargo bench -p gatehouse-policy --bench policy_eval`

#![expect(clippy::unwrap_used, reason = "a benchmark stops loudly when its setup fails")]

use std::fmt::Write;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_policy::{
    AuthenticatorKey as K, CompiledPolicy, DeviceFacts, Enrollment, EvaluationInput, Format, Method as M,
    Platform, PolicySet, RequestContext, RiskLevel, UserContext, UserVerification, VerificationFacts,
    VerificationRecord, check_text, evaluate,
};
use jiff::{SignedDuration, Timestamp};

const TEN_RULES: &str = r#"
version: 1
network_zones:
  - name: corp
    cidrs: [10.0.0.0/8, "2001:db8::/32"]
  - name: tor-exits
    cidrs: [198.51.100.0/24]
  - name: partners
    cidrs: [203.0.113.0/24]
enrollment_policy:
  allowed: [password, email, totp, webauthn, device]
authentication_policies:
  - name: finance
    apps: [finance]
    rules:
      - name: block-risky
        when: { risk: [high] }
        access: deny
      - name: block-tor
        when: { network: { include: [tor-exits] } }
        access: deny
      - name: deny-contractors
        when: { groups: { include: [contractors] } }
        access: deny
      - name: admins
        when: { groups: { include: [admins] } }
        access: allow
        require:
          assurance: { factors: 2, possession: { phishing_resistant: true, hardware_protected: true } }
          reauthenticate: PT1H
      - name: partners
        when: { network: { include: [partners] } }
        access: allow
        require:
          chains: [ { steps: [ [ {authenticator: password} ], [ {authenticator: webauthn} ] ] } ]
      - name: interns
        when: { groups: { include: [interns] } }
        access: allow
        require: { assurance: { factors: 2 }, reauthenticate: every_sign_in }
      - name: auditors
        when: { users: { include: [audit-bot, auditor] } }
        access: deny
      - name: managed-employees
        when:
          groups: { include: [employees], exclude: [contractors] }
          network: { include: [corp] }
          device: { registered: true, managed: true, platform: [macos, windows] }
          risk: [low, medium]
        access: allow
        require:
          assurance:
            factors: 2
            possession: { phishing_resistant: true, hardware_protected: true, user_verification: biometric }
            exclude: [phone, email]
          reauthenticate: PT4H
      - name: employees
        when: { groups: { include: [employees] } }
        access: allow
        require:
          chains:
            - steps:
                - [ {authenticator: password} ]
                - [ {authenticator: totp}, {authenticator: webauthn, user_verification: any}, {authenticator: device, method: push} ]
              reauthenticate: PT1H
      - name: everyone-else
        access: deny
"#;

fn now() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn typical() -> (RequestContext, Vec<Enrollment>, Vec<VerificationRecord>) {
    let context = RequestContext {
        user: UserContext {
            login: "alice".to_owned(),
            groups: vec!["employees".to_owned(), "finance-readers".to_owned()],
        },
        ip: "10.1.2.3".parse().unwrap(),
        device: Some(DeviceFacts {
            registered: true,
            managed: true,
            platform: Some(Platform::Macos),
            secure_hardware: true,
            biometric_capable: true,
            enrollment_id: None,
        }),
        risk: RiskLevel::Low,
    };
    let mut device = Enrollment::new(K::Device);
    device.hardware_protected = true;
    device.user_verification = UserVerification::Biometric;
    device.id = Some("dev-1".to_owned());
    let mut passkey = Enrollment::new(K::Webauthn);
    passkey.user_verification = UserVerification::Any;
    let enrollments = vec![
        Enrollment::new(K::Password),
        Enrollment::new(K::Totp),
        passkey,
        device,
    ];
    let records = vec![
        VerificationRecord::new(
            K::Password,
            M::Password,
            &VerificationFacts::default(),
            now() - SignedDuration::from_secs(40),
            true,
        )
        .unwrap(),
    ];
    (context, enrollments, records)
}

fn compile(yaml: &str, app: &str) -> CompiledPolicy {
    let report = check_text(yaml, Format::Yaml);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    PolicySet::compile(report.document.as_ref().unwrap())
        .unwrap()
        .policy_for_app(app)
        .unwrap()
        .clone()
}

/// 1,000 rules, each for its own group and one of ten zones, then a catch-all.
fn thousand_rules() -> String {
    let mut yaml = String::from("version: 1\nnetwork_zones:\n");
    for z in 0..10 {
        writeln!(yaml, "  - name: zone-{z}\n    cidrs: [\"10.{z}.0.0/16\"]").unwrap();
    }
    yaml.push_str("authentication_policies:\n  - name: big\n    apps: [big]\n    rules:\n");
    for i in 0..999 {
        writeln!(
            yaml,
            "      - name: rule-{i}\n        when: {{ groups: {{ include: [group-{i}] }}, network: {{ include: [zone-{}] }} }}\n        access: allow\n        require:\n          assurance: {{ factors: 2, possession: {{ device_bound: true }} }}\n          reauthenticate: PT{}H",
            i % 10,
            1 + i % 12
        )
        .unwrap();
    }
    yaml.push_str("      - name: catch-all\n        access: allow\n        require:\n          assurance: { factors: 1 }\n          reauthenticate: no_session\n");
    yaml
}

fn benches(c: &mut Criterion) {
    let (context, enrollments, records) = typical();
    let input = EvaluationInput {
        context: &context,
        enrollments: &enrollments,
        records: &records,
        now: now(),
        step_up: None,
    };

    let ten = compile(TEN_RULES, "finance");
    assert_eq!(evaluate(&ten, &input).kind(), "continue");
    c.bench_function("eval_10_rules_typical", |b| {
        b.iter(|| evaluate(black_box(&ten), black_box(&input)))
    });

    let big_text = thousand_rules();
    let big = compile(&big_text, "big");
    let last = evaluate(&big, &input);
    assert_eq!((&*last.rule, last.kind()), ("catch-all", "allow"));
    c.bench_function("eval_1000_rules_match_last", |b| {
        b.iter(|| evaluate(black_box(&big), black_box(&input)))
    });

    c.bench_function("parse_validate_1000_rules", |b| {
        b.iter(|| {
            let report = check_text(black_box(&big_text), Format::Yaml);
            assert!(report.diagnostics.is_empty());
            report
        })
    });
    c.bench_function("parse_validate_compile_1000_rules", |b| {
        b.iter(|| {
            let report = check_text(black_box(&big_text), Format::Yaml);
            PolicySet::compile(report.document.as_ref().unwrap()).unwrap()
        })
    });
}

criterion_group! {
    name = policy_eval;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(policy_eval);
