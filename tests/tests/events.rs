//! Every sample event in `events/` is a valid API Gateway HTTP API (v2) event for a route we serve, is
//! answered by its function's route table from its `routeKey` (never 404 or 405, never 5xx), and every route
//! has at least one event. So `sam local invoke -e` works.
//! Trigger events (S3, DynamoDB Streams, SQS) live in `events/triggers/<function>/` and have their own tests
//! (`tests/tests/trigger_<function>.rs`).

use lambda_http::RequestExt;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use switchboard::App;
use switchboard::config::Config;
use switchboard_local::{Functions, find};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn event_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "triggers") {
                continue;
            }
            event_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "json") {
            found.push(path);
        }
    }
}

#[tokio::test]
async fn every_event_runs_through_its_handler_and_every_route_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let functions = Functions::new(
        &App::new(Config::for_local(|_| None, Some(dir.path().into())).unwrap())
            .await
            .unwrap(),
    );
    let routes = functions.routes();
    let mut files = Vec::new();
    event_files(&repo().join("events"), &mut files);
    assert!(!files.is_empty());
    let mut covered = BTreeSet::new();
    for file in files {
        let name = file.strip_prefix(repo()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(raw["version"], "2.0", "{name}: not a payload v2 event");
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let route_key = raw["routeKey"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no routeKey"));
        let (route, params) =
            find(&routes, request.method(), request.uri().path()).unwrap_or_else(|| {
                panic!(
                    "{name}: no route serves {} {}",
                    request.method(),
                    request.uri().path()
                )
            });
        assert_eq!(
            route.key, route_key,
            "{name}: routeKey disagrees with its path"
        );
        assert_eq!(
            request
                .path_parameters()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<std::collections::HashMap<_, _>>(),
            params,
            "{name}: pathParameters"
        );
        // As Lambda runs it: the event as it is, dispatched on its own routeKey.
        let response = (route.call)(request).await;
        let status = response.status().as_u16();
        assert!(
            status < 500 && status != 404 && status != 405,
            "{name}: {status} {}",
            String::from_utf8_lossy(response.body())
        );
        covered.insert(route.key);
    }
    let all: BTreeSet<&str> = routes.iter().map(|r| r.key).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without an event in events/: {missing:?}"
    );
}

/// An event of `file` answered by `health` with the given state.
async fn health_answer(
    file: &str,
    state: health::State,
) -> lambda_http::Response<lambda_http::Body> {
    let text = std::fs::read_to_string(repo().join("events/health").join(file)).unwrap();
    let request = lambda_http::request::from_str(&text).unwrap();
    health::ROUTES.dispatch(&state, request).await
}

#[tokio::test]
async fn is_alive_answers_ok() {
    let response = health_answer("get-is-alive.json", health::State::default()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"OK");
}

#[tokio::test]
async fn crm_manifest_names_the_api_it_was_reached_at() {
    let manifest = |public_url: Option<&'static str>| async move {
        let state = health::State {
            public_url: public_url.map(str::to_owned),
        };
        let response = health_answer("get-crmManifest.json", state).await;
        assert_eq!(response.status(), 200);
        serde_json::from_slice::<serde_json::Value>(response.body()).unwrap()
    };
    // Behind API Gateway: its https origin.
    let deployed = manifest(None).await;
    assert_eq!(
        deployed["serverUrl"],
        "https://abc123.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(
        deployed["platforms"]["switchboard"]["urlIdentifier"],
        "abc123.execute-api.us-east-1.amazonaws.com"
    );
    // A custom domain, configured.
    let custom = manifest(Some("https://crm.example.com/")).await;
    assert_eq!(custom["serverUrl"], "https://crm.example.com");
}
