//! docs/openapi-webhooks.yaml documents every `/webhooks` route the local server serves (and no other),
//! and every event of the catalogue in its OpenAPI 3.1 `webhooks` section; docs/openapi-identity.yaml has
//! the `/requests` routes.

use std::collections::BTreeSet;

use serde_yaml::Value;
use switchboard::webhooks::events::catalogue;

fn spec(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn operations(spec: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                found.insert(format!(
                    "{} {}",
                    method.to_uppercase(),
                    path.as_str().unwrap()
                ));
            }
        }
    }
    found
}

fn served(prefix: &str) -> BTreeSet<String> {
    switchboard_local::route_keys()
        .into_iter()
        .filter(|key| {
            key.split_once(' ')
                .is_some_and(|(_, path)| path.starts_with(prefix))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_webhook_route_and_event_is_documented() {
    let webhooks = spec("openapi-webhooks.yaml");
    assert_eq!(webhooks["openapi"], "3.1.0");
    assert_eq!(operations(&webhooks), served("/webhooks"));
    let documented: BTreeSet<&str> = webhooks["webhooks"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, item)| {
            let name = name.as_str().unwrap();
            let schema = &item["post"]["requestBody"]["content"]["application/json"]["schema"];
            assert_eq!(schema["allOf"][1]["properties"]["event"]["const"], name);
            name
        })
        .collect();
    assert_eq!(documented, catalogue().collect());
}

#[test]
fn the_request_routes_are_documented() {
    let identity = spec("openapi-identity.yaml");
    let documented: BTreeSet<String> = operations(&identity)
        .into_iter()
        .filter(|op| op.contains(" /requests"))
        .collect();
    assert_eq!(documented, served("/requests"));
}
