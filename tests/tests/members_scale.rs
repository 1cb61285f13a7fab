//! The member directory at scale (issue 22): `MEMBERS` identities (default 100,000) with profiles in one
//! organization on DynamoDB Local, then searches timed. Not part of the test command (seeding takes
//! minutes); `bench/members.sh` runs it and bench/README.md keeps its figures.

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
#[ignore = "seeds 100,000 members for minutes: bench/members.sh"]
async fn search_stays_fast_at_scale() {
    let count: usize = std::env::var("MEMBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let api = Api::dynamodb().await;
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
    // bench/members.sh starts DynamoDB Local afresh: its only table is this run's.
    let scan = switchboard_tests::dynamodb_client().await;
    let tables = scan.list_tables().send().await.unwrap();
    let mut rows = 0;
    for table in tables.table_names() {
        let mut start = None;
        loop {
            let page = scan
                .scan()
                .table_name(table)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            rows += page.count();
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    let token = api.admin_token().await;
    println!("seeded {count} members in {seeded:?}; the table holds {rows} items");
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
        }
        times.sort();
        println!(
            "query {query:?}: {found} found; median {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
