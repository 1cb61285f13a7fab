//! DynamoDB calls per request, counted at the SDK on DynamoDB Local (token check included). The CRM goal is
//! at most two per request; the identity check of user-facing routes is one.

use serde_json::json;
use switchboard_tests::CallCounter;
use switchboard_tests::api::Api;

#[tokio::test]
async fn dynamodb_calls_per_request() {
    let counter = CallCounter::default();
    let api = Api::counted(counter.clone()).await;
    let jwt = api.crm_login(&api.api_key("agent").await).await;
    let token = api.sign_in("agent", "crm-user-password", None).await;
    let contact = api
        .post(&format!("/contact?jwtToken={jwt}"))
        .json(json!({"phoneNumber": "+16505559876", "newContactName": "Ada"}))
        .send()
        .await;
    assert_eq!(contact.body["successful"], true);
    let call = |session: &str| {
        json!({"logInfo": {"sessionId": session, "direction": "Inbound", "from": {"phoneNumber": "+16505559876"},
               "to": {"phoneNumber": "+16505550100"}}, "contactId": "c1", "contactName": "Ada"})
    };
    let q = format!("jwtToken={jwt}");
    let cases = vec![
        ("GET /contact", api.get(&format!("/contact?{q}&phoneNumber=%2B16505559876&overridingFormat=(***)%20***-****,***-***-****")), 2),
        ("POST /callLog", api.post(&format!("/callLog?{q}")).json(call("s-1")), 2),
        ("POST /callLog (duplicate)", api.post(&format!("/callLog?{q}")).json(call("s-1")), 2),
        ("GET /callLog", api.get(&format!("/callLog?{q}&sessionIds=s-1,s-2,s-3")), 2),
        ("PATCH /callLog", api.patch(&format!("/callLog?{q}")).json(json!({"sessionId": "s-1", "note": "n"})), 3),
        ("GET /users/me/api-keys", api.get("/users/me/api-keys").bearer(&token), 2),
        ("GET /sessions", api.get("/sessions").bearer(&token), 2),
    ];
    counter.take();
    let mut report = Vec::new();
    for (route, request, limit) in cases {
        let reply = request.send().await;
        assert!(reply.status < 500, "{route}: {}", reply.text);
        let calls = counter.take();
        report.push(format!("{route}: {calls}"));
        assert!(
            calls <= limit,
            "{route} made {calls} DynamoDB calls (limit {limit})"
        );
    }
    // The per-request figures, for bench/README.md.
    println!("{}", report.join("\n"));
}
