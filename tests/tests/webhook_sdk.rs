//! The official ContactsManager Python SDK (`verify_webhook_signature`, run by
//! `switchboard_tests::receiver::sdk_verifies`) accepts what Switchboard's signer produces and refuses a
//! tampered body, an old timestamp and another secret; and, while a rotation's two secrets sign, verifies
//! the header with the previous secret and the current secret's own header with the current one.

use switchboard::time::unix_now;
use switchboard::webhooks::events::Delivery;
use switchboard::webhooks::signature::{TOLERANCE_SECONDS, sign, sign_all};
use switchboard_tests::receiver::sdk_verifies;

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

    // A rotation's overlap: `v1=<current>,v1=<previous>`; the SDK keeps the last v1.
    let previous = "whsec_previousSecretOfTheTest";
    let both = sign_all(&[secret.as_bytes(), previous.as_bytes()], now, &body);
    assert!(sdk_verifies(previous, &both, &body), "the previous secret");
    assert!(
        !sdk_verifies(secret, &both, &body),
        "the current secret needs its own header"
    );
    assert!(sdk_verifies(secret, &header, &body));
}
