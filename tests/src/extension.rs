//! The App Connect browser extension's flows, over HTTP against the local server, in the order the extension
//! makes its calls, asserting the fields it reads (ringcentral/rc-unified-crm-extension-client: `popup.js`,
//! `core/*.js`). Every call carries what the extension sends: the token as `?jwtToken=`, an extension
//! origin, and the `rc-*` and `developer-author-name` headers it adds once it knows the user.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::api::{Api, Reply};
use crate::wire;

const ORIGIN: &str = "chrome-extension://appconnect";
const PHONE: &str = "+16505559876";
const SESSION: &str = "533278004020";
const UNLOGGED: &str = "533278004021";

struct Extension {
    addr: SocketAddr,
    author: String,
}

impl Extension {
    async fn call(&self, method: &str, target: &str, body: Option<Value>) -> Reply {
        let headers = [
            ("origin", ORIGIN),
            ("rc-extension-id", "101"),
            ("rc-account-id", "37439510"),
            ("developer-author-name", self.author.as_str()),
        ];
        let reply = wire::send(self.addr, method, target, &headers, body.as_ref()).await;
        assert_eq!(
            reply.headers["access-control-allow-origin"], "*",
            "{method} {target}"
        );
        assert_eq!(reply.status, 200, "{method} {target}: {}", reply.text);
        reply
    }
}

/// A call as the extension logs it (`core/log.js`): no `note` when the user typed none in the log form.
fn call_log(contact: &str) -> Value {
    json!({
        "logInfo": {
            "id": "rc-call-1", "sessionId": SESSION, "telephonySessionId": "s-a0", "direction": "Inbound",
            "from": {"phoneNumber": PHONE}, "to": {"phoneNumber": "+16505550100"},
            "startTime": 1795150800000u64, "duration": 42, "result": "Call connected"
        },
        "aiNote": "", "transcript": "", "additionalSubmission": {}, "overridingFormat": "(***) ***-****",
        "contactId": contact, "contactType": "Contact", "contactName": "Ada Lovelace"
    })
}

fn conversation(contact: Option<&str>) -> Value {
    let mut body = json!({
        "logInfo": {
            "conversationId": "c-7", "conversationLogId": "c-7/11/26/2026", "type": "SMS",
            "correspondents": [{"phoneNumber": PHONE}],
            "messages": [
                {"id": "m-2", "type": "SMS", "direction": "Outbound", "subject": "See you then",
                 "from": {"phoneNumber": "+16505550100"}, "to": [{"phoneNumber": PHONE}],
                 "creationTime": "2026-11-26T04:01:00.000Z"},
                {"id": "m-1", "type": "SMS", "direction": "Inbound", "subject": "Friday at 10?",
                 "from": {"phoneNumber": PHONE}, "to": [{"phoneNumber": "+16505550100"}],
                 "creationTime": "2026-11-26T04:00:00.000Z"}
            ]
        },
        "additionalSubmission": {}, "overridingFormat": "(***) ***-****",
        "contactType": "Contact", "contactName": "Ada Lovelace"
    });
    if let Some(contact) = contact {
        body["contactId"] = json!(contact);
    }
    body
}

/// login → settings → contact match (unknown, then known) → cacheNote → log the call → disposition → read
/// it back → log an SMS conversation → settings → unAuthorize.
pub async fn app_connect_extension_over_http(api: &Api) {
    let key = api.api_key("agent").await;
    let addr = wire::serve(api).await;

    // The custom manifest URL, the support page's probe, and CORS for every header the extension sends.
    let manifest = wire::send(
        addr,
        "GET",
        "/crmManifest?platformName=switchboard",
        &[("origin", ORIGIN)],
        None,
    )
    .await;
    assert_eq!(manifest.status, 200, "{}", manifest.text);
    assert_eq!(manifest.body["serverUrl"], format!("http://{addr}"));
    let platform = &manifest.body["platforms"]["switchboard"];
    assert_eq!(platform["name"], "switchboard");
    assert_eq!(platform["auth"]["type"], "apiKey");
    assert_eq!(
        platform["auth"]["apiKey"]["page"]["content"][0]["const"],
        "apiKey"
    );
    assert_eq!(platform["page"]["callLog"]["additionalFields"], json!([]));
    let ext = Extension {
        addr,
        author: manifest.body["author"]["name"].as_str().unwrap().to_owned(),
    };
    assert_eq!(ext.call("GET", "/isAlive", None).await.text, "OK");
    let preflight = wire::send(
        addr,
        "OPTIONS",
        "/callDisposition",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "authorization,content-type,developer-author-name,rc-account-id,rc-extension-id",
            ),
        ],
        None,
    )
    .await;
    assert_eq!(preflight.status, 200);
    let allowed = preflight.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in [
        "authorization",
        "content-type",
        "developer-author-name",
        "rc-account-id",
        "rc-extension-id",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }

    // Login (`core/auth.js`): jwtToken, name, returnMessage.
    let login = ext
        .call(
            "POST",
            "/apiKeyLogin?state=platform=switchboard",
            Some(json!({"apiKey": key, "platform": "switchboard", "hostname": "temp", "additionalInfo": {}})),
        )
        .await;
    let jwt = login.str("jwtToken");
    assert_eq!(login.body["name"], "agent");
    assert_eq!(login.body["returnMessage"]["messageType"], "success");
    let q = format!("jwtToken={jwt}");

    // Settings after login (`core/user.js`): GET answers the object itself; POST merges and answers it.
    let settings_url = format!("/user/settings?{q}&rcAccountId=37439510");
    let settings = ext.call("GET", &settings_url, None).await;
    assert_eq!(settings.body, json!({}));
    let saved = ext
        .call(
            "POST",
            &format!("/user/settings?{q}"),
            Some(json!({"userSettings": {"autoLogCall": {"value": true}, "selectedRegion": {"value": "US"}}})),
        )
        .await;
    assert_eq!(saved.body["userSettings"]["autoLogCall"]["value"], true);
    assert_eq!(saved.body["userSettings"]["selectedRegion"]["value"], "US");

    // An unknown number (`core/contact.js` sends the `+` unencoded): a success with only the placeholder,
    // so the log page opens with "Create new contact…".
    let target = format!(
        "/contact?{q}&phoneNumber={PHONE}&overridingFormat=(***)%20***-****&isExtension=false"
    );
    let unknown = ext.call("GET", &target, None).await;
    assert_eq!(unknown.body["successful"], true, "{}", unknown.text);
    let list = unknown.body["contact"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], "createNewContact");
    assert_eq!(list[0]["isNewContact"], true);
    // The user creates the contact from the log page; then the number is known.
    let created = ext
        .call(
            "POST",
            &format!("/contact?{q}"),
            Some(json!({"phoneNumber": PHONE, "newContactName": "Ada Lovelace", "newContactType": "Contact"})),
        )
        .await;
    assert_eq!(created.body["successful"], true);
    let contact = created.body["contact"]["id"].as_str().unwrap().to_owned();
    let known = ext.call("GET", &target, None).await;
    assert_eq!(known.body["successful"], true);
    let matches: Vec<&Value> = known.body["contact"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["isNewContact"] != true)
        .collect();
    assert_eq!(matches.len(), 1, "{}", known.text);
    assert_eq!(matches[0]["id"], json!(contact));
    assert_eq!(matches[0]["name"], "Ada Lovelace");

    // The call ends with a note typed: cached on the server.
    let cached = ext
        .call(
            "POST",
            &format!("/callLog/cacheNote?{q}"),
            Some(json!({"sessionId": SESSION, "note": "Wants a demo on Friday"})),
        )
        .await;
    assert_eq!(cached.body, json!({"successful": true}));

    // Auto-logging logs it without a note: the cached one is used.
    let logged = ext
        .call("POST", &format!("/callLog?{q}"), Some(call_log(&contact)))
        .await;
    assert_eq!(logged.body["successful"], true, "{}", logged.text);
    let log_id = logged.str("logId");
    assert_eq!(logged.body["returnMessage"]["messageType"], "success");

    // The disposition after the log edit (`core/disposition.js`): its returnMessage is shown.
    let dispositions = json!({"outcome": "Interested", "note": "Wants a demo on Friday"});
    let disposed = ext
        .call(
            "PUT",
            &format!("/callDisposition?{q}"),
            Some(json!({"sessionId": SESSION, "dispositions": dispositions, "additionalSubmission": {}})),
        )
        .await;
    assert_eq!(disposed.body["successful"], true, "{}", disposed.text);
    assert!(disposed.body["returnMessage"]["message"].is_string());

    // Read back: the log page (`requireDetails=true`) and the call-history matcher (`false`). Every id
    // asked for has an entry; `sessionId` is compared with `===` to the string the extension holds.
    let read = ext
        .call(
            "GET",
            &format!("/callLog?{q}&sessionIds={SESSION},{UNLOGGED}&requireDetails=true"),
            None,
        )
        .await;
    assert_eq!(read.body["successful"], true);
    let logs = read.body["logs"].as_array().unwrap();
    let entry = logs.iter().find(|l| l["sessionId"] == SESSION).unwrap();
    assert_eq!(entry["matched"], true);
    assert_eq!(entry["logId"], json!(log_id));
    assert_eq!(entry["contact"]["id"], json!(contact));
    assert_eq!(entry["logData"]["note"], "Wants a demo on Friday");
    assert_eq!(
        entry["logData"]["subject"],
        "Inbound call from Ada Lovelace"
    );
    assert_eq!(entry["logData"]["dispositions"], dispositions);
    let other = logs.iter().find(|l| l["sessionId"] == UNLOGGED).unwrap();
    assert_eq!(other["matched"], false);
    let matcher = ext
        .call(
            "GET",
            &format!("/callLog?{q}&sessionIds={SESSION},{UNLOGGED}&requireDetails=false"),
            None,
        )
        .await;
    let logs = matcher.body["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["contact"]["id"], json!(contact));
    assert_eq!(logs[1], json!({"sessionId": UNLOGGED, "matched": false}));

    // An SMS conversation: refused without a contact, writing nothing; then logged, with `logIds`.
    let refused = ext
        .call(
            "POST",
            &format!("/messageLog?{q}"),
            Some(conversation(None)),
        )
        .await;
    assert_eq!(refused.body["successful"], false);
    assert_eq!(
        refused.body["returnMessage"]["message"],
        format!("Contact not found for number {PHONE}")
    );
    let messages = ext
        .call(
            "POST",
            &format!("/messageLog?{q}"),
            Some(conversation(Some(&contact))),
        )
        .await;
    assert_eq!(messages.body["successful"], true, "{}", messages.text);
    assert_eq!(messages.body["logIds"], json!(["m-1", "m-2"]));
    let again = ext
        .call(
            "POST",
            &format!("/messageLog?{q}"),
            Some(conversation(Some(&contact))),
        )
        .await;
    assert_eq!(again.body["logIds"], json!([]));

    // Settings before log-out, then log-out.
    let settings = ext.call("GET", &settings_url, None).await;
    assert_eq!(settings.body["autoLogCall"]["value"], true);
    let out = ext.call("POST", &format!("/unAuthorize?{q}"), None).await;
    assert_eq!(out.body["successful"], true);
    assert_eq!(out.body["returnMessage"]["messageType"], "success");
    // A factory reset reads settings with the dead token: `{}`, not an error.
    let after = ext.call("GET", &format!("/user/settings?{q}"), None).await;
    assert_eq!(after.body, json!({}));
    // The settings belong to the user: the next login finds them.
    let jwt = api.crm_login(&key).await;
    let back = ext
        .call("GET", &format!("/user/settings?jwtToken={jwt}"), None)
        .await;
    assert_eq!(back.body["autoLogCall"]["value"], true);
}
