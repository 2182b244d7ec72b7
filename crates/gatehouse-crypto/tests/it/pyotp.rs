//! TOTP codes agree with pyotp, for every algorithm and digit count, through the otpauth URI.

use std::process::Command;

use gatehouse_crypto::{Totp, TotpAlgorithm, TotpDigits, TotpParams, TotpSecret};
use serde_json::json;

use crate::external::{available, run_json};

const SCRIPT: &str = r#"
import hashlib, json, sys, pyotp
cases = json.loads(sys.argv[1])
out = []
for case in cases:
    from_uri = pyotp.parse_uri(case["uri"])
    out.append({
        "uri": [from_uri.at(t) for t in case["times"]],
        "secret": [pyotp.TOTP(case["secret"], digits=case["digits"], digest=hashlib.sha1).at(t) for t in case["times"]]
            if case["sha1"] else None,
    })
print(json.dumps(out))
"#;

#[test]
fn codes_match_pyotp_for_every_algorithm_and_digit_count() {
    if !available("python3") {
        return;
    }
    let times: Vec<u64> = vec![0, 59, 1_111_111_109, 1_234_567_890, 1_700_000_000, 2_000_000_000];
    let mut cases = Vec::new();
    let mut totps = Vec::new();
    let secrets = [
        TotpSecret::from_base32("GATEHOUSEDEMOALICETOTPSECRET2345").unwrap(),
        TotpSecret::generate(),
        // 128 bits, the RFC minimum (pyotp itself refuses anything under 112).
        TotpSecret::from_bytes(&[0x5a; 16]).unwrap(),
    ];
    for secret in &secrets {
        for algorithm in [TotpAlgorithm::Sha1, TotpAlgorithm::Sha256, TotpAlgorithm::Sha512] {
            for digits in [TotpDigits::Six, TotpDigits::Eight] {
                let totp = Totp::new(secret, TotpParams { algorithm, digits }).unwrap();
                let uri = totp.otpauth_uri("Gatehouse", "alice@example.com").unwrap();
                // Also through pyotp's own constructor (base32 secret) for SHA-1; the URI path
                // covers every algorithm.
                let sha1 = algorithm == TotpAlgorithm::Sha1;
                cases.push(json!({
                    "uri": uri,
                    "secret": secret.to_base32(),
                    "digits": digits.count(),
                    "sha1": sha1,
                    "times": times,
                }));
                totps.push(totp);
            }
        }
    }
    let answers = run_json(Command::new("python3").args(["-c", SCRIPT, &json!(cases).to_string()]));
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), totps.len());
    for ((totp, answer), case) in totps.iter().zip(answers).zip(&cases) {
        let ours: Vec<String> = times.iter().map(|t| totp.generate(*t)).collect();
        let theirs: Vec<String> = serde_json::from_value(answer["uri"].clone()).unwrap();
        assert_eq!(ours, theirs, "{}", case["uri"]);
        if let Some(direct) = answer["secret"].as_array() {
            let direct: Vec<&str> = direct.iter().map(|c| c.as_str().unwrap()).collect();
            assert_eq!(ours, direct, "{}", case["uri"]);
        }
        // Every pyotp code verifies here, at its own step.
        for (t, code) in times.iter().zip(&theirs) {
            assert_eq!(totp.verify(code, *t, None), Some(Totp::step_at(*t)));
        }
    }
}
