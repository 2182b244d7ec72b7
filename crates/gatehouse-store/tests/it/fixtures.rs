//! Records for tests, with fixed times so results can be compared exactly.

use gatehouse_core::model::*;
use gatehouse_store::new_id;
use jiff::Timestamp;

pub fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

pub fn user(login: &str) -> User {
    User {
        id: new_id(),
        login: Login::parse(login).unwrap(),
        email: Email::parse(&format!("{}@example.com", login.to_lowercase())).unwrap(),
        display_name: DisplayName::parse(&format!("{login} Example")).unwrap(),
        status: UserStatus::Active,
        profile: Profile::parse(serde_json::json!({"department": "finance"})).unwrap(),
        created_at: at(0),
        updated_at: at(0),
        status_changed_at: at(0),
        last_sign_in_at: None,
    }
}

pub fn group(name: &str) -> Group {
    Group {
        id: new_id(),
        name: GroupName::parse(name).unwrap(),
        description: format!("the {name}"),
        builtin: false,
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn app(client_id: &str) -> Application {
    Application {
        id: new_id(),
        client_id: ClientId::parse(client_id).unwrap(),
        name: AppName::parse(&format!("{client_id} app")).unwrap(),
        kind: ClientKind::Confidential,
        secret_digest: Some("ab".repeat(32)),
        redirect_uris: vec![format!("http://127.0.0.1:9000/{client_id}/callback")],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
        policy_id: None,
        backchannel_logout_uri: None,
        assignments: Assignments::default(),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn policy(kind: PolicyKind, name: &str) -> Policy {
    Policy {
        id: new_id(),
        kind,
        name: PolicyName::parse(name).unwrap(),
        settings: serde_json::json!({}),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn rule(policy: PolicyId, name: &str, position: i64) -> PolicyRule {
    PolicyRule {
        id: new_id(),
        policy_id: policy,
        position,
        name: PolicyName::parse(name).unwrap(),
        body: serde_json::json!({"name": name, "access": "allow"}),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub fn session(user: UserId, token_digest: &str) -> Session {
    Session {
        id: new_id(),
        token_digest: token_digest.to_owned(),
        user_id: user,
        device_id: None,
        created_at: at(10),
        last_seen_at: at(10),
        expires_at: at(10 + 86_400),
        max_idle: std::time::Duration::from_secs(7_200),
        keep_signed_in: true,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        ended_at: None,
        end_reason: None,
    }
}

pub fn record(
    session: SessionId,
    authenticator: AuthenticatorKey,
    method: Method,
    second: i64,
) -> VerificationRecord {
    VerificationRecord {
        id: new_id(),
        session_id: session,
        flow_id: Some(new_id()),
        authenticator,
        method,
        enrollment_id: None,
        device_id: None,
        verified_at: at(second),
        proof: authenticator
            .prove(method, &VerificationFacts::default())
            .unwrap(),
    }
}

pub fn enrollment(user: UserId, authenticator: AuthenticatorKey) -> Enrollment {
    Enrollment {
        id: new_id(),
        user_id: user,
        authenticator,
        methods: authenticator.methods().to_vec(),
        status: EnrollmentStatus::Active,
        name: None,
        data: serde_json::json!({"secret_sealed": "v1.k1.nonce.ciphertext"}),
        hardware_protected: false,
        user_verification: UserVerification::None,
        device_id: None,
        counter: None,
        created_at: at(0),
        updated_at: at(0),
        last_used_at: None,
    }
}

pub fn device(user: UserId) -> Device {
    Device {
        id: new_id(),
        user_id: user,
        status: DeviceStatus::Active,
        display_name: "alice's laptop".into(),
        platform: "macos".into(),
        os_version: "15.1".into(),
        model: "MacBookPro18,1".into(),
        secure_hardware: true,
        managed: true,
        biometric_capable: true,
        key_storage: KeyStorage::Pkcs11,
        pop_public_key: r#"{"kty":"EC","crv":"P-256","x":"x","y":"y"}"#.into(),
        uv_public_key: None,
        uv_level: None,
        created_at: at(0),
        updated_at: at(0),
        last_seen_at: None,
    }
}

pub fn event(event_type: KnownType, second: i64) -> LogEvent {
    LogEvent::new(new_id(), at(second), event_type, Actor::System, Outcome::Success)
}
