//! `template.yaml` and the code must agree: the table the code creates for tests and local runs, the routes
//! the local server serves, and one template function per function crate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use switchboard::store::table::{ATTR_TTL, INDEXES, KEY_ATTRIBUTES, PRIMARY_KEY};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo().join("template.yaml")).unwrap()).unwrap()
}

fn resources(template: &Value) -> impl Iterator<Item = (&str, &Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v))
}

fn key_schema(schema: &Value) -> (String, String) {
    let part = |kind: &str| {
        schema
            .as_sequence()
            .unwrap()
            .iter()
            .find(|k| k["KeyType"] == kind)
            .and_then(|k| k["AttributeName"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (part("HASH"), part("RANGE"))
}

#[test]
fn table_matches_the_code() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    let attributes: BTreeSet<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().into(),
                a["AttributeType"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = KEY_ATTRIBUTES
        .iter()
        .map(|a| (a.to_string(), "S".into()))
        .collect();
    assert_eq!(attributes, expected);
    assert_eq!(
        key_schema(&table["KeySchema"]),
        (PRIMARY_KEY.0.into(), PRIMARY_KEY.1.into())
    );
    let indexes = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), INDEXES.len());
    for (name, (hash, range)) in INDEXES {
        let index = indexes
            .iter()
            .find(|i| i["IndexName"] == name)
            .unwrap_or_else(|| panic!("index {name}"));
        assert_eq!(key_schema(&index["KeySchema"]), (hash.into(), range.into()));
        assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    }
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], ATTR_TTL);
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn each_function_deploys_exactly_its_route_table() {
    let template = template();
    let mut deployed = BTreeSet::new();
    for (_, resource) in
        resources(&template).filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
    {
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                deployed.insert((
                    binary.to_owned(),
                    format!(
                        "{} {}",
                        p["Method"].as_str().unwrap().to_uppercase(),
                        p["Path"].as_str().unwrap()
                    ),
                ));
            }
        }
    }
    let tables: BTreeSet<(String, String)> = switchboard_local::function_routes()
        .into_iter()
        .map(|(function, key)| (function, key.to_owned()))
        .collect();
    assert_eq!(deployed, tables);
}

#[test]
fn every_function_crate_is_deployed() {
    let template = template();
    let binaries: BTreeSet<String> = resources(&template)
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
            assert_eq!(
                r["Properties"]["CodeUri"], ".",
                "{name}: build from the workspace root"
            );
            r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| {
            let manifest = std::fs::read_to_string(e.unwrap().path().join("Cargo.toml")).unwrap();
            let name = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = "))
                .unwrap();
            name.trim_matches('"').to_owned()
        })
        .collect();
    assert_eq!(binaries, crates);
}

#[test]
fn cors_allowed_headers_match_the_local_server() {
    let template = template();
    let listed: Vec<&str> =
        template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]["AllowHeaders"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
    assert_eq!(listed, switchboard_local::CORS_ALLOW_HEADERS);
}
