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
