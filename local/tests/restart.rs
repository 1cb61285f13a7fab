//! The real `switchboard-local` process, killed (SIGKILL) with webhook deliveries pending while their
//! receiver is down, then started again over the same data directory: every delivery arrives, because the
//! deliveries run from what is stored, not from memory. With `--no-delivery` it records events and sends
//! nothing; a later start sends them.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16, dir: &std::path::Path, options: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchboard-local"))
        .args(["--port", &port.to_string(), "--s3-port", "0", "--data-dir"])
        .arg(dir)
        .args(options)
        .env("SWITCHBOARD_ALLOW_PRIVATE_TARGETS", "1")
        .env("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s")
        .env("SWITCHBOARD_ORG_ID", "default")
        .env("SWITCHBOARD_ORG_API_KEY", "restart-test-key")
        .env(
            "SWITCHBOARD_ORG_API_SECRET",
            "restart-test-secret-0123456789abcdef0123",
        )
        .env("SWITCHBOARD_ADMIN_USERNAME", "admin")
        .env("SWITCHBOARD_ADMIN_PASSWORD", "admin-password-1")
        .env_remove("SWITCHBOARD_TABLE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("switchboard-local starts")
}

/// One HTTP/1.1 request; the status and the JSON body.
async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let body = body.to_string();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn ready(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A receiver that answers 200 and keeps the event ids it got.
async fn receiver(port: u16) -> Arc<Mutex<HashSet<String>>> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let ids: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = ids.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .and_then(|l| l.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            if let Ok(delivery) = serde_json::from_str::<Value>(&body[..length]) {
                                seen.lock()
                                    .unwrap()
                                    .insert(delivery["id"].as_str().unwrap_or_default().to_owned());
                            }
                            break;
                        }
                    }
                    if n == 0 {
                        return;
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    ids
}

/// The admin subscribes `hook_port` to `account.created`; three accounts are made.
async fn three_accounts_watched_by(port: u16, hook_port: u16) {
    let (_, signed) = call(
        port,
        "POST",
        "/sessions",
        None,
        json!({"username": "admin", "password": "admin-password-1"}),
    )
    .await;
    let admin = signed["accessToken"].as_str().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{hook_port}/hook");
    let (status, _) = call(
        port,
        "POST",
        "/webhooks",
        Some(&admin),
        json!({"url": url, "events": ["account.created"]}),
    )
    .await;
    assert_eq!(status, 201);
    for name in ["ann", "bob", "cy"] {
        let (status, _) = call(
            port,
            "POST",
            "/accounts",
            None,
            json!({"username": name, "password": "a-good-password"}),
        )
        .await;
        assert_eq!(status, 201);
    }
}

/// Waits up to 15 s for three deliveries, then stops `server`; how many arrived.
async fn three_delivered(ids: &Mutex<HashSet<String>>, mut server: Child) -> usize {
    let start = Instant::now();
    while ids.lock().unwrap().len() < 3 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    ids.lock().unwrap().len()
}

#[tokio::test]
async fn a_killed_server_delivers_what_was_pending_after_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (port, hook_port) = (free_port(), free_port());
    let mut server = start(port, dir.path(), &[]);
    ready(port).await;
    three_accounts_watched_by(port, hook_port).await;
    // Their first attempts meet a closed port; the server dies with the deliveries pending.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let ids = receiver(hook_port).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        ids.lock().unwrap().is_empty(),
        "nothing is delivered while the server is down"
    );
    let server = start(port, dir.path(), &[]);
    ready(port).await;
    assert_eq!(
        three_delivered(&ids, server).await,
        3,
        "every pending delivery, once the server is back"
    );
}

#[tokio::test]
async fn with_no_delivery_events_wait_for_a_server_that_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let (port, hook_port) = (free_port(), free_port());
    let ids = receiver(hook_port).await;
    let mut server = start(port, dir.path(), &["--no-delivery"]);
    ready(port).await;
    three_accounts_watched_by(port, hook_port).await;
    // The local loop would have sent them within its 100 ms poll.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        ids.lock().unwrap().is_empty(),
        "--no-delivery sends nothing"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let server = start(port, dir.path(), &[]);
    ready(port).await;
    assert_eq!(
        three_delivered(&ids, server).await,
        3,
        "a start without it sends what was recorded: {:?}",
        ids.lock().unwrap()
    );
}
