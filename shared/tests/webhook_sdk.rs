//! The official ContactsManager Python SDK (`verify_webhook_signature`, installed into .tools/sdk-py by
//! scripts/sdk-venv.sh, which the test command runs) accepts what Switchboard's signer produces and
//! refuses a tampered body, an old timestamp and another secret.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use switchboard::time::unix_now;
use switchboard::webhooks::events::Delivery;
use switchboard::webhooks::signature::{TOLERANCE_SECONDS, sign};

/// Reads the raw body from stdin, as a receiver gets it, and prints the SDK's verdict.
const VERIFY: &str = r#"
import sys
from contactsmanager import ContactsManagerClient
client = ContactsManagerClient("api-key", "api-secret", "org")
client.set_webhook_secret(sys.argv[1])
print("valid" if client.verify_webhook_signature(sys.stdin.buffer.read(), sys.argv[2]) else "invalid")
"#;

fn sdk_python() -> PathBuf {
    let python = std::env::var_os("SWITCHBOARD_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sdk-py/bin/python")
        });
    assert!(
        python.exists(),
        "{} is missing: run scripts/sdk-venv.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

fn sdk_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut child = Command::new(sdk_python())
        .args(["-c", VERIFY, secret, header])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the SDK's python starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(body)
        .expect("the body is written");
    let output = child.wait_with_output().expect("the SDK's python ends");
    assert!(output.status.success(), "the SDK script failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().last() {
        Some("valid") => true,
        Some("invalid") => false,
        _ => panic!("unexpected SDK output: {stdout}"),
    }
}

#[test]
fn the_official_sdk_verifies_switchboard_signatures() {
    let secret = "whsec_9fK2mQ7xL4pR8tV1";
    let payload = serde_json::json!({"userId": "u-42", "fullName": "Zoë Åström", "note": "a,b=c"});
    let body = Delivery {
        id: "0193a1c2-7d4e-7f00-8a1b-2c3d4e5f6a7b",
        event: "user.new",
        created_at: "2026-11-26T05:00:00.000Z",
        payload: &payload,
    }
    .body();
    let now = unix_now();
    let header = sign(secret.as_bytes(), now, &body);

    assert!(
        sdk_verifies(secret, &header, &body),
        "a fresh delivery verifies"
    );

    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("u-42", "u-43");
    assert!(
        !sdk_verifies(secret, &header, tampered.as_bytes()),
        "a tampered body fails"
    );

    let old = sign(secret.as_bytes(), now - TOLERANCE_SECONDS - 60, &body);
    assert!(!sdk_verifies(secret, &old, &body), "an old timestamp fails");

    assert!(
        !sdk_verifies("whsec_other", &header, &body),
        "another secret fails"
    );
}
