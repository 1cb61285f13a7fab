//! The local server over real HTTP: routing, API Gateway's not-found answer, CORS preflight, and the request
//! conversion (query decoding included) that hands handlers what Lambda would.

use switchboard_tests::api::Api;
use switchboard_tests::wire::{raw, serve};

#[tokio::test]
async fn serves_every_function_over_http() {
    let api = Api::embedded().await;
    // A CRM token, to follow a `+` through the query string.
    let jwt = api.crm_login(&api.api_key("agent").await).await;

    let addr = serve(&api).await;

    let alive = raw(
        addr,
        "GET /is-alive HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(alive.starts_with("HTTP/1.1 200 OK"), "{alive}");
    assert!(alive.ends_with("\r\n\r\nOK"), "{alive}");

    let missing = raw(
        addr,
        "GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.ends_with(r#"{"message":"Not Found"}"#), "{missing}");

    let preflight = raw(
        addr,
        "OPTIONS /contact HTTP/1.1\r\nhost: x\r\norigin: chrome-extension://abc\r\naccess-control-request-method: GET\r\naccess-control-request-headers: authorization\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(preflight.starts_with("HTTP/1.1 200"), "{preflight}");
    assert!(
        preflight
            .to_lowercase()
            .contains("access-control-allow-origin: *"),
        "{preflight}"
    );
    // Named headers: by the Fetch standard `*` would not cover `authorization`.
    let allowed = preflight
        .lines()
        .find_map(|l| {
            l.to_lowercase()
                .strip_prefix("access-control-allow-headers: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("{preflight}"));
    assert_eq!(allowed, switchboard_local::CORS_ALLOW_HEADERS.join(","));

    // `+` in a query string is a space once decoded, as App Connect's server sees it; the route restores it.
    let body = r#"{"phoneNumber":"+16505559876","newContactName":"Ada"}"#;
    let created = raw(
        addr,
        &format!(
            "POST /contact?jwtToken={jwt} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(created.contains(r#""successful":true"#), "{created}");
    let found = raw(addr, &format!("GET /contact?jwtToken={jwt}&phoneNumber=+16505559876 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).await;
    assert!(found.contains(r#""name":"Ada""#), "{found}");
}

/// The platform's ceilings hold locally too: a request whose Lambda event would pass 6 MB, or whose body
/// passes API Gateway's 10 MB, is a 413 in the route's family's envelope; the documented defaults fit
/// through (an inline avatar of 4,194,304 bytes reaches the function).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_platform_request_ceilings_hold_locally() {
    use switchboard_local::{MAX_BODY_BYTES, MAX_EVENT_BYTES};
    use switchboard_tests::wire::send;
    let api = Api::embedded().await;
    let token = api
        .sign_in("admin", switchboard_tests::api::ADMIN_PASSWORD, None)
        .await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let addr = serve(&api).await;
    let padded = |size: usize| serde_json::json!({"base64": "x".repeat(size)});

    // Just over Lambda's 6 MB: the user service's envelope, and the CRM's plain text.
    let users = send(
        addr,
        "POST",
        "/users/me/avatar/sync",
        &auth,
        Some(&padded(MAX_EVENT_BYTES)),
    )
    .await;
    assert_eq!(users.status, 413, "{}", users.text);
    assert!(
        users.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("6 MB"),
        "{}",
        users.text
    );
    let crm = send(
        addr,
        "POST",
        "/callLog",
        &[],
        Some(&padded(MAX_EVENT_BYTES)),
    )
    .await;
    assert_eq!(crm.status, 413, "{}", crm.text);
    assert!(
        crm.text.contains("6 MB") && crm.body.is_null(),
        "{}",
        crm.text
    );
    // Over API Gateway's 10 MB.
    let huge = send(
        addr,
        "POST",
        "/users/me/avatar/sync",
        &auth,
        Some(&padded(MAX_BODY_BYTES)),
    )
    .await;
    assert_eq!(huge.status, 413, "{}", huge.text);
    assert!(huge.text.contains("10 MB"), "{}", huge.text);

    // The largest inline avatar fits: its request reaches the function (which checks the image: 400 here).
    let inline = "A".repeat(4_194_304_usize.div_ceil(3) * 4);
    let body = serde_json::json!({"base64": format!("data:image/png;base64,{inline}")});
    let fits = send(addr, "POST", "/users/me/avatar/sync", &auth, Some(&body)).await;
    assert_eq!(fits.status, 400, "{}", fits.text);
}
