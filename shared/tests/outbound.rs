//! The outbound URL guard against real local servers: refusals of every address class before any connection,
//! redirects re-checked on every hop, the body limit, the timeouts, and what the override lifts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchboard::outbound::{ALLOW_PRIVATE_TARGETS, Outbound, OutboundError, Policy};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const LIMIT: usize = 1000;

/// A local web server that counts the requests it answers.
struct Server {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Server {
    async fn start(ip: Ipv4Addr) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route(
                "/image",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], "PNGDATA") }),
            )
            .route("/hop/{n}", get(hop))
            .route("/redirect", get(redirect))
            .route("/relative", get(|| async { found("image") }))
            .route("/no-location", get(|| async { StatusCode::FOUND }))
            .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
            .route(
                "/bytes/{n}",
                get(|Path(n): Path<usize>| async move { vec![b'x'; n] }),
            )
            .route("/stream/{n}", get(stream))
            .route("/slow", get(slow).post(slow))
            .layer(axum::middleware::from_fn_with_state(hits.clone(), count));
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, hits }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.address)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

async fn hop(Path(n): Path<u32>) -> Response {
    match n {
        0 => "arrived".into_response(),
        n => found(&format!("/hop/{}", n - 1)),
    }
}

#[derive(serde::Deserialize)]
struct To {
    to: String,
}

async fn redirect(Query(To { to }): Query<To>) -> Response {
    found(&to)
}

/// `n` bytes in chunks of 100, with no Content-Length: only counting the stream finds the size.
async fn stream(Path(n): Path<usize>) -> Response {
    let chunks = (0..n.div_ceil(100))
        .map(move |i| Ok::<_, std::io::Error>(vec![b'y'; 100.min(n - i * 100)]));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "late"
}

fn strict() -> Outbound {
    Outbound::new(Policy::default())
}

fn overridden() -> Outbound {
    Outbound::new(Policy::from_env(|name| {
        (name == ALLOW_PRIVATE_TARGETS).then(|| "1".into())
    }))
}

#[tokio::test]
async fn only_https_urls_are_accepted_without_the_override() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = strict();
    for url in [
        server.url("http", "/image"),
        "ftp://example.com/a.png".into(),
        "file:///etc/passwd".into(),
        "gopher://127.0.0.1:70/".into(),
        "data:image/png;base64,iVBORw0KGgo=".into(),
    ] {
        assert_eq!(
            guard.get(&url, LIMIT).await.unwrap_err(),
            OutboundError::SchemeNotAllowed,
            "{url}"
        );
    }
    for url in ["not a url", "/relative/path", "https://"] {
        assert_eq!(
            guard.get(url, LIMIT).await.unwrap_err(),
            OutboundError::InvalidUrl,
            "{url}"
        );
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn every_non_public_address_class_is_refused_before_connecting() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let port = server.address.port();
    let guard = strict();
    let urls = [
        format!("https://127.0.0.1:{port}/image"),
        format!("https://localhost:{port}/image"),
        format!("https://127.1:{port}/image"),
        format!("https://0x7f.0.0.1:{port}/image"),
        format!("https://2130706433:{port}/image"),
        format!("https://[::ffff:127.0.0.1]:{port}/image"),
        format!("https://[::ffff:7f00:1]:{port}/image"),
        format!("https://0.0.0.0:{port}/image"),
        "https://[::1]/".into(),
        "https://[::]/".into(),
        "https://169.254.169.254/latest/meta-data/".into(),
        "https://[::ffff:169.254.169.254]/latest/meta-data/".into(),
        "https://[fd00:ec2::254]/latest/meta-data/".into(),
        "https://10.0.0.1/".into(),
        "https://172.16.5.4/".into(),
        "https://192.168.1.1/".into(),
        "https://100.64.0.1/".into(),
        "https://[fc00::1]/".into(),
        "https://[fe80::1]/".into(),
        "https://[64:ff9b::a9fe:a9fe]/".into(),
        "https://224.0.0.1/".into(),
        "https://[ff02::1]/".into(),
        "https://255.255.255.255/".into(),
        "https://192.0.2.10/".into(),
        "https://[2001:db8::1]/".into(),
    ];
    for url in urls {
        assert_eq!(
            guard.get(&url, LIMIT).await.unwrap_err(),
            OutboundError::ForbiddenAddress,
            "{url}"
        );
    }
    assert_eq!(server.hits(), 0, "no refused URL reached the server");
}

#[tokio::test]
async fn the_override_fetches_local_http_and_reports_the_content_type() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = overridden();
    let port = server.address.port();
    for url in [
        server.url("http", "/image"),
        format!("http://localhost:{port}/image#fragment"),
    ] {
        let fetched = guard.get(&url, LIMIT).await.unwrap();
        assert_eq!(&fetched.body[..], b"PNGDATA");
        assert_eq!(fetched.content_type.as_deref(), Some("image/png"));
    }
    assert_eq!(server.hits(), 2);
    assert_eq!(
        guard.get("ftp://127.0.0.1/", LIMIT).await.unwrap_err(),
        OutboundError::SchemeNotAllowed,
        "the override allows http, nothing else"
    );
}

#[tokio::test]
async fn at_most_three_redirects_are_followed() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = overridden();
    let fetched = guard
        .get(&server.url("http", "/hop/3"), LIMIT)
        .await
        .unwrap();
    assert_eq!(&fetched.body[..], b"arrived");
    assert_eq!(fetched.url.path(), "/hop/0");
    assert_eq!(
        guard
            .get(&server.url("http", "/hop/4"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::TooManyRedirects(3)
    );
    let relative = guard
        .get(&server.url("http", "/relative"), LIMIT)
        .await
        .unwrap();
    assert_eq!(&relative.body[..], b"PNGDATA");
    assert_eq!(
        guard
            .get(&server.url("http", "/no-location"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::BadRedirect
    );
    assert_eq!(
        guard
            .get(&server.url("http", "/missing"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Status(404)
    );
}

/// 127.0.0.2 stands in for a public host: the policy admits it and only it, so the first hop is allowed and
/// the redirect to 127.0.0.1 meets the address rule on its own hop.
#[tokio::test]
async fn a_redirect_to_loopback_is_refused_without_the_override_and_followed_with_it() {
    let public = Server::start(Ipv4Addr::new(127, 0, 0, 2)).await;
    let internal = Server::start(Ipv4Addr::LOCALHOST).await;
    let target = internal.url("http", "/image");
    let url = public.url("http", &format!("/redirect?to={target}"));
    let only_the_stand_in = Outbound::new(Policy {
        allow_http: true,
        address_allowed: |ip| ip == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        ..Policy::default()
    });
    assert_eq!(
        only_the_stand_in.get(&url, LIMIT).await.unwrap_err(),
        OutboundError::ForbiddenAddress
    );
    assert_eq!(public.hits(), 1);
    assert_eq!(
        internal.hits(),
        0,
        "the redirect target was never contacted"
    );

    let fetched = overridden().get(&url, LIMIT).await.unwrap();
    assert_eq!(&fetched.body[..], b"PNGDATA");
    assert_eq!(fetched.url.as_str(), target);
    assert_eq!(internal.hits(), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_an_error_not_a_truncation() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = overridden();
    let exact = guard
        .get(&server.url("http", &format!("/bytes/{LIMIT}")), LIMIT)
        .await
        .unwrap();
    assert_eq!(exact.body.len(), LIMIT);
    let streamed = guard
        .get(&server.url("http", &format!("/stream/{LIMIT}")), LIMIT)
        .await
        .unwrap();
    assert_eq!(streamed.body.len(), LIMIT);
    for path in [
        format!("/bytes/{}", LIMIT + 1),
        format!("/stream/{}", LIMIT + 1),
    ] {
        assert_eq!(
            guard
                .get(&server.url("http", &path), LIMIT)
                .await
                .unwrap_err(),
            OutboundError::TooLarge { limit: LIMIT },
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_slow_answer_meets_the_total_timeout() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = Outbound::new(Policy {
        total_timeout: Duration::from_millis(300),
        ..Policy::from_env(|_| Some("1".into()))
    });
    let started = Instant::now();
    assert_eq!(
        guard
            .get(&server.url("http", "/slow"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Inside an invocation with little time left, a slow answer is given up on before the invocation ends,
/// whatever the policy's own timeout (15 s here): GET and POST alike.
#[tokio::test]
async fn a_slow_answer_is_given_up_on_inside_the_invocation_deadline() {
    let server = Server::start(Ipv4Addr::LOCALHOST).await;
    let guard = overridden();
    let deadline = Instant::now() + switchboard::deadline::MARGIN + Duration::from_millis(500);
    let started = Instant::now();
    let (got, posted) = switchboard::deadline::within(Some(deadline), async {
        let got = guard.get(&server.url("http", "/slow"), LIMIT).await;
        let posted = guard
            .post(
                &server.url("http", "/slow"),
                &[],
                bytes::Bytes::new(),
                Duration::from_secs(15),
            )
            .await;
        (got, posted)
    })
    .await;
    assert_eq!(got.unwrap_err(), OutboundError::Timeout);
    assert_eq!(posted.unwrap_err(), OutboundError::Timeout);
    assert!(
        Instant::now() < deadline + Duration::from_secs(1),
        "given up on in time: {:?}",
        started.elapsed()
    );
}

/// A host that accepts the connection but never answers the TLS handshake meets the connect timeout; what it
/// received shows the https path speaks TLS (a handshake record starts with 0x16).
#[tokio::test]
async fn a_silent_tls_host_meets_the_connect_timeout() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let first_byte = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let byte = socket.read_u8().await.unwrap();
        (byte, socket) // the connection stays open, silent
    });
    let guard = Outbound::new(Policy {
        connect_timeout: Duration::from_millis(300),
        ..Policy::from_env(|_| Some("1".into()))
    });
    let started = Instant::now();
    assert_eq!(
        guard
            .get(&format!("https://{address}/image"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Timeout
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(first_byte.await.unwrap().0, 0x16);
}

#[tokio::test]
async fn unknown_and_unreachable_hosts_are_refused() {
    let guard = overridden();
    assert_eq!(
        guard
            .get("https://no-such-host.invalid/a.png", LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Unresolvable
    );
    // A port nothing listens on.
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    assert_eq!(
        guard
            .get(&format!("http://{address}/"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Unreachable
    );
}

#[test]
fn refusals_are_400s_and_setup_failures_500s() {
    let refusal: switchboard::Error = OutboundError::ForbiddenAddress.into();
    assert_eq!(refusal.status(), 400);
    assert_eq!(
        refusal.to_string(),
        "The URL's host is not a public internet address"
    );
    let setup: switchboard::Error = OutboundError::Setup("no roots".into()).into();
    assert_eq!(setup.status(), 500);
}
