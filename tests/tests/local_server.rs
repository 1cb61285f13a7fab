//! The local server over real HTTP: routing, API Gateway's not-found answer, CORS preflight, and the request
//! conversion (query decoding included) that hands handlers what Lambda would.

use switchboard_tests::api::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn serves_every_function_over_http() {
    let api = Api::embedded().await;
    // A CRM token, to follow a `+` through the query string.
    let jwt = api.crm_login(&api.api_key("agent").await).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = switchboard_local::router(api.app.clone(), &switchboard_local::routes());
    tokio::spawn(async move { axum::serve(listener, router).await });

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
