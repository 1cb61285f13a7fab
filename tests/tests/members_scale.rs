//! The member directory at scale (issue 22): `MEMBERS` identities with profiles in one organization on
//! DynamoDB Local, then searches timed. The test command seeds 300 (seconds); `bench/members.sh` seeds
//! 100,000 (minutes) and bench/README.md keeps its figures. With `MEMBERS_TABLE` set to the table of an
//! earlier run (same DynamoDB Local), it only searches.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::Map;
use switchboard::identity::NewIdentity;
use switchboard_tests::api::{Api, ORG};

const FIRST: &[&str] = &[
    "José", "John", "Ana", "María", "Li", "Wei", "Fatima", "Olga", "Pierre", "Zoë", "Amir",
    "Sofia", "Kenji", "Aiyana", "Noah", "Émile", "Ines", "Lars", "Priya", "Tomás",
];
const LAST: &[&str] = &[
    "Álvarez", "Smith", "Nguyen", "Müller", "Kowalski", "Okafor", "Haddad", "Ivanova", "Tanaka",
    "Rossi", "García", "Dubois", "Larsen", "Chen", "Patel", "Silva", "Novák", "Cohen", "Kim",
    "Brown",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_stays_fast_at_scale() {
    let count: usize = std::env::var("MEMBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    // `MEMBERS_TABLE` names a table an earlier run seeded: only the searches run again.
    let existing = std::env::var("MEMBERS_TABLE").ok();
    let api = match &existing {
        Some(table) => {
            let client = switchboard_tests::dynamodb_client().await;
            let store = switchboard::store::dynamodb::DynamoStore::new(
                client,
                table.clone(),
                switchboard_tests::cursor_codec(),
            );
            Api::over(std::sync::Arc::new(store)).await
        }
        None => Api::dynamodb().await,
    };
    let count = if existing.is_some() { 0 } else { count };
    let started = Instant::now();
    let identities = &api.app.identities;
    stream::iter(0..count)
        .for_each_concurrent(48, |i| async move {
            let (first, last) = (FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
            identities
                .create_identity(NewIdentity {
                    organization_id: ORG.into(),
                    username: format!("member{i}"),
                    email: Some(format!("member{i}@example{}.com", i % 97)),
                    type_id: "001".into(),
                    profile: Some((format!("{first} {last} {i}"), Map::new())),
                    ..NewIdentity::default()
                })
                .await
                .unwrap();
        })
        .await;
    let seeded = started.elapsed();
    // bench/members.sh starts DynamoDB Local afresh: its only table is this run's (its item count is
    // current there; a Scan of a million items would take many minutes). The test command's has others.
    let mut rows = 0;
    if std::env::var("MEMBERS").is_ok() || existing.is_some() {
        let client = switchboard_tests::dynamodb_client().await;
        for table in client.list_tables().send().await.unwrap().table_names() {
            let described = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .unwrap();
            rows += described.table().and_then(|t| t.item_count()).unwrap_or(0);
        }
    }
    let token = api.admin_token().await;
    match rows {
        0 => println!("seeded {count} members in {seeded:?}"),
        rows => println!("seeded {count} members in {seeded:?}; the table holds {rows} items"),
    }
    for query in [
        "jose",
        "tomas garcia",
        "kowal",
        "member4242",
        "example13",
        "zz",
    ] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..20 {
            let at = Instant::now();
            let reply = api
                .get(&format!(
                    "/members?query={}&limit=20",
                    query.replace(' ', "%20")
                ))
                .bearer(&token)
                .send()
                .await;
            times.push(at.elapsed());
            assert_eq!(reply.status, 200, "{}", reply.text);
            found = reply.body.as_array().unwrap().len();
            // Every 20th member is a José: found at any size.
            if query == "jose" {
                assert!(found > 0, "{query}: {}", reply.text);
            }
        }
        times.sort();
        println!(
            "query {query:?}: {found} found; median {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
