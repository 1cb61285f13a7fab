//! Resilience on both backends: bounded answers, and the paths that handle a write conflict. DynamoDB
//! cancels writes that meet another transaction; the embedded store never does unless asked
//! ([`switchboard::store::embedded::EmbeddedStore::with_conflicts_every`]), so its suite runs on a store
//! where every second write conflicts: the domain must retry, never report a conflict as a result.

use serde_json::json;
use switchboard::crm::builtin::MAX_CONTACT_MATCHES;

use crate::api::Api;

fn call(session: &str) -> serde_json::Value {
    json!({"logInfo": {"sessionId": session, "direction": "Inbound", "from": {"phoneNumber": "+16505559876"},
           "to": {"phoneNumber": "+16505550100"}}, "contactId": "c1", "contactName": "Ada"})
}

/// Every user-facing write succeeds once, with its effect visible, however the store's writes conflict.
pub async fn writes_succeed_through_conflicts(api: &Api) {
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let q = format!("jwtToken={jwt}");
    for n in 0..3 {
        let contact = api
            .post(&format!("/contact?{q}"))
            .json(json!({"phoneNumber": format!("+1650555000{n}"), "newContactName": "Ada"}))
            .send()
            .await;
        assert_eq!(contact.body["successful"], true, "{}", contact.text);
        let session = format!("s-{n}");
        let logged = api
            .post(&format!("/callLog?{q}"))
            .json(call(&session))
            .send()
            .await;
        // A conflict wrote nothing: reporting "existing log" would lose the call.
        assert_eq!(logged.body["successful"], true, "{}", logged.text);
        let again = api
            .post(&format!("/callLog?{q}"))
            .json(call(&session))
            .send()
            .await;
        assert_eq!(again.body["successful"], false, "{}", again.text);
        let patched = api
            .patch(&format!("/callLog?{q}"))
            .json(json!({"sessionId": session, "note": "n"}))
            .send()
            .await;
        assert_eq!(patched.body["successful"], true, "{}", patched.text);
    }
    let (_, profile) = api.sign_up("robin", "robin-password").await;
    // A new name each time: an update that changes nothing is refused (seed 003).
    for n in 0..3 {
        let token = api.sign_in("robin", "robin-password", None).await;
        let renamed = api
            .patch(&format!("/users/{profile}"))
            .bearer(&token)
            .json(json!({"name": format!("Robin {n}")}))
            .send()
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.text);
    }
}

/// `GET /contact` answers at most [`MAX_CONTACT_MATCHES`] contacts for one number, the first created.
pub async fn contact_matches_are_bounded(api: &Api) {
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let q = format!("jwtToken={jwt}");
    let mut ids = Vec::new();
    for n in 0..=MAX_CONTACT_MATCHES {
        let created = api
            .post(&format!("/contact?{q}"))
            .json(json!({"phoneNumber": "+16505559876", "newContactName": format!("Ada {n}")}))
            .send()
            .await;
        ids.push(created.body["contact"]["id"].clone());
    }
    let found = api
        .get(&format!("/contact?{q}&phoneNumber=%2B16505559876"))
        .send()
        .await;
    let list = found.body["contact"].as_array().unwrap();
    // The matches, then the "create new contact" entry.
    assert_eq!(list.len(), MAX_CONTACT_MATCHES + 1, "{}", found.text);
    let matched: Vec<_> = list[..MAX_CONTACT_MATCHES]
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(matched, ids[..MAX_CONTACT_MATCHES]);
}
