//! A real OpenID Connect provider for the tests: `oidc-provider` (npm) run on loopback from `tests/oidc/`
//! (`scripts/services.sh install` installs it), one per test, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The audience the provider's tokens name by default.
pub const AUDIENCE: &str = "urn:switchboard:api";

impl Provider {
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(|| {
            let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc/server.mjs");
            let mut child = Command::new("node")
                .arg(&server)
                .arg("0")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "node {}: {e} (run scripts/services.sh install)",
                        server.display()
                    )
                });
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let issuer = line
                .trim()
                .strip_prefix("READY ")
                .unwrap_or_else(|| {
                    panic!("the provider did not start: {line:?} (run scripts/services.sh install)")
                })
                .to_owned();
            Provider { issuer, child }
        })
        .await
        .unwrap()
    }

    /// POSTs `body` (JSON, or a form when `form`) to `path`; the answer's JSON.
    async fn post(
        &self,
        path: &str,
        body: String,
        content_type: &str,
        auth: Option<&str>,
    ) -> Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.issuer.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let auth = auth
            .map(|a| format!("Authorization: Basic {a}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{path}: {answer}"))
    }

    /// A token signed by the provider's own endpoint for tests (`/test/token`: see tests/oidc/README.md).
    pub async fn token(&self, request: Value) -> String {
        let answer = self
            .post("/test/token", request.to_string(), "application/json", None)
            .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"))
            .to_owned()
    }

    /// A JWT access token from the provider's real client-credentials grant, for user `sub` with `claims`.
    pub async fn client_credentials(&self, sub: &str, claims: Value) -> String {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("test-client:test-secret");
        let form = format!(
            "grant_type=client_credentials&scope=api%3Aread&test_sub={}&test_claims={}",
            url::form_urlencoded::byte_serialize(sub.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(claims.to_string().as_bytes()).collect::<String>()
        );
        let answer = self
            .post(
                "/token",
                form,
                "application/x-www-form-urlencoded",
                Some(&basic),
            )
            .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"))
            .to_owned()
    }

    /// Publishes a new RS256 key and signs with it from now on; its `kid`.
    pub async fn rotate(&self) -> String {
        let answer = self
            .post(
                "/test/rotate",
                json!({}).to_string(),
                "application/json",
                None,
            )
            .await;
        answer["kid"].as_str().unwrap().to_owned()
    }
}
