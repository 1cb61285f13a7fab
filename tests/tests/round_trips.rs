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
        ("POST /callLog/cacheNote", api.post(&format!("/callLog/cacheNote?{q}")).json(json!({"sessionId": "s-4", "note": "n"})), 2),
        ("POST /callLog (cached note)", api.post(&format!("/callLog?{q}")).json(call("s-4")), 2),
        ("PUT /callDisposition", api.call("PUT", &format!("/callDisposition?{q}")).json(json!({"sessionId": "s-4", "dispositions": {"a": 1}})), 3),
        ("POST /user/settings", api.post(&format!("/user/settings?{q}")).json(json!({"userSettings": {"autoLogCall": {"value": true}}})), 2),
        ("GET /user/settings", api.get(&format!("/user/settings?{q}")), 1),
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
