//! A webhook receiver on loopback for the delivery tests: it records each request's headers and raw body and
//! answers from a script (200 once the script is spent); and the verdicts of the official ContactsManager
//! Python SDK (`verify_webhook_signature`) and of the PyPI `standardwebhooks` library (`Webhook.verify`) on a
//! delivery, both installed into .tools/sdk-py by scripts/sdk-venv.sh.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// What the receiver answers to one request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Answers 200 after this long (longer than the delivery timeout: a timeout).
    Hang(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON delivery")
    }

    /// The Standard Webhooks headers, as a receiver hands them to the library.
    pub fn standard_headers(&self) -> Vec<(&'static str, &str)> {
        use switchboard::webhooks::standard::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
        [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
            .into_iter()
            .map(|name| (name, self.header(name)))
            .collect()
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared.received.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    let answer = shared.script.lock().unwrap().pop_front();
    let code = match answer {
        Some(Answer::Status(code)) => code,
        Some(Answer::Hang(wait)) => {
            tokio::time::sleep(wait).await;
            200
        }
        None => 200,
    };
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    /// Listens on a free loopback port; every path is the hook.
    pub async fn start() -> Self {
        Self::start_on(0, []).await
    }

    /// A loopback port nothing listens on (yet): connections to it are refused.
    pub async fn free_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    /// Listens on `port` (0: any free one), answering `script` first.
    pub async fn start_on(port: u16, script: impl IntoIterator<Item = Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        shared.script.lock().unwrap().extend(script);
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
            server,
        }
    }

    /// The answers to the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until `done` holds for what was received; answers it.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let received = self.received();
            if done(&received) || start.elapsed() > timeout {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Reads the raw body from stdin, as a receiver gets it, and prints the SDK's verdict.
const VERIFY: &str = r#"
import sys
from contactsmanager import ContactsManagerClient
client = ContactsManagerClient("api-key", "api-secret", "org")
client.set_webhook_secret(sys.argv[1])
print("valid" if client.verify_webhook_signature(sys.stdin.buffer.read(), sys.argv[2]) else "invalid")
"#;

fn sdk_python() -> PathBuf {
    let python = std::env::var_os("SWITCHBOARD_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/sdk-py/bin/python")
        });
    assert!(
        python.exists(),
        "{} is missing: run scripts/sdk-venv.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

/// Reads the raw body from stdin and the headers (JSON) from the last argument; prints the library's verdict.
const STANDARD_VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
try:
    Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), json.loads(sys.argv[2]))
    print("valid")
except WebhookVerificationError:
    print("invalid")
"#;

/// Whether the official Python SDK accepts `body` with the signature `header` for `secret`.
pub fn sdk_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    verdict(&[VERIFY, secret, header], body)
}

/// Whether the PyPI `standardwebhooks` library accepts `body` with `headers` (name, value) for `secret`.
pub fn standard_verifies(secret: &str, headers: &[(&str, &str)], body: &[u8]) -> bool {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).into()))
        .collect();
    let headers = serde_json::Value::Object(headers).to_string();
    verdict(&[STANDARD_VERIFY, secret, &headers], body)
}

/// Runs `script` (its arguments after it) with `body` on stdin: its last line, `valid` or `invalid`.
fn verdict(script: &[&str], body: &[u8]) -> bool {
    let mut child = Command::new(sdk_python())
        .arg("-c")
        .args(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the SDK's python starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(body)
        .expect("the body is written");
    let output = child.wait_with_output().expect("the SDK's python ends");
    assert!(output.status.success(), "the verifying script failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().last() {
        Some("valid") => true,
        Some("invalid") => false,
        _ => panic!("unexpected verifier output: {stdout}"),
    }
}
