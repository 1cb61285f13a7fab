//! `template.yaml` as an AWS reviewer reads it: secrets only where used, a log group with a retention per
//! function, a table that cannot be deleted by accident, a throttled and logged API, memory for argon2.
//! (The IAM policies are checked against the calls each function makes in `round_trips.rs`.) And as the team
//! running it reads it: every function, stream consumer, queue, the API and the table alarm to one topic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::Value;

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// The logical id a `!Ref` names.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

fn variables(value: &Value) -> BTreeSet<String> {
    value["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn secrets_only_where_used() {
    let template = template();
    let globals = variables(&template["Globals"]["Function"]);
    for never in [
        "SWITCHBOARD_TOKEN_SECRET",
        "APP_SERVER_SECRET_KEY",
        "RUST_LOG",
    ] {
        assert!(!globals.contains(never), "Globals set {never}");
    }
    // Access tokens and cursors for the identity functions; the CRM jwtToken for the CRM functions.
    let token = ["SWITCHBOARD_TOKEN_SECRET"];
    let crm = ["APP_SERVER_SECRET_KEY"];
    let expected: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("HealthFunction", &[][..]),
        ("UsersFunction", &token[..]),
        ("AccountsFunction", &token[..]),
        ("ServerApiFunction", &token[..]),
        ("CrmAuthFunction", &crm[..]),
        ("ContactFunction", &crm[..]),
        ("CallLogFunction", &crm[..]),
        ("MessageLogFunction", &crm[..]),
        ("PushFunction", &token[..]),
        ("PushDispatchFunction", &[][..]),
        ("AvatarUploadUrlFunction", &token[..]),
        ("AvatarProcessorFunction", &[][..]),
        ("WebhooksFunction", &token[..]),
        ("EventDispatchFunction", &[][..]),
        ("WebhookDeliverFunction", &[][..]),
        ("MailSendFunction", &[][..]),
    ]);
    let functions = functions(&template);
    assert_eq!(
        functions
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        expected.keys().copied().collect(),
        "a new function: say which secrets it uses"
    );
    for (name, function) in &functions {
        let given: BTreeSet<String> = variables(&function["Properties"])
            .into_iter()
            .filter(|v| v.contains("SECRET"))
            .collect();
        let wanted: BTreeSet<String> = expected[name.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(given, wanted, "{name}");
    }
}

#[test]
fn every_function_logs_to_a_group_with_retention() {
    let template = template();
    let resources = &template["Resources"];
    let retained = |id: &str| {
        let group = &resources[id];
        group["Type"] == "AWS::Logs::LogGroup"
            && group["Properties"]["RetentionInDays"]
                .as_u64()
                .is_some_and(|d| d > 0)
    };
    let mut groups = BTreeSet::new();
    for (name, function) in functions(&template) {
        let group = reference(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{name} has no log group"));
        assert!(retained(group), "{name}: {group} keeps logs forever");
        assert!(groups.insert(group.to_owned()), "{group} shared");
    }
    let logging = &template["Globals"]["Function"]["LoggingConfig"];
    assert_eq!(logging["LogFormat"], "JSON");
    assert!(logging["ApplicationLogLevel"].is_string());
}

#[test]
fn the_table_cannot_be_deleted_by_accident() {
    let table = &template()["Resources"]["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
}

#[test]
fn the_api_is_throttled_with_a_tighter_sign_in_and_logged() {
    let template = template();
    let api = &template["Resources"]["HttpApi"]["Properties"];
    let rate = |settings: &Value| {
        let (burst, rate) = (
            settings["ThrottlingBurstLimit"].as_u64().unwrap(),
            settings["ThrottlingRateLimit"].as_f64().unwrap(),
        );
        assert!(burst > 0 && rate > 0.0);
        (burst, rate)
    };
    let default = rate(&api["DefaultRouteSettings"]);
    let sign_in = rate(&api["RouteSettings"]["POST /sessions"]);
    assert!(sign_in.0 < default.0 && sign_in.1 < default.1);
    assert!(switchboard_local::route_keys().contains(&"POST /sessions"));
    let access = &api["AccessLogSettings"];
    let format = access["Format"].as_str().unwrap();
    assert!(format.contains("$context.requestId") && format.contains("$context.status"));
    // The CRM's jwtToken travels in the query string: never logged.
    assert!(!format.contains("querystring") && !format.contains("$context.path"));
    let Value::Tagged(arn) = &access["DestinationArn"] else {
        panic!("DestinationArn is not !GetAtt");
    };
    let group = arn.value.as_str().unwrap().trim_end_matches(".Arn");
    assert!(template["Resources"][group]["Properties"]["RetentionInDays"].is_u64());
}

#[test]
fn the_function_that_hashes_passwords_has_the_cpu_for_it() {
    let template = template();
    let default = template["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .unwrap();
    for (name, function) in functions(&template) {
        let memory = function["Properties"]["MemorySize"]
            .as_u64()
            .unwrap_or(default);
        // Sign-up and sign-in (argon2id, 19 MiB): see the template's comment for the measurement.
        let hashes = name == "AccountsFunction";
        assert_eq!(memory >= 1024, hashes, "{name}: {memory} MB");
    }
}

/// The logical id a `!GetAtt X.Attr` names.
fn attribute_of(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => tagged.value.as_str()?.split('.').next(),
        _ => None,
    }
}

#[test]
fn nothing_a_trigger_gives_up_on_is_lost_unseen() {
    let template = template();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut failure_queues = BTreeSet::new();
    // Every stream consumer keeps the records it gave up on in a queue.
    for (name, function) in functions(&template) {
        for (_, event) in function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] == "DynamoDB" {
                let on_failure = &event["Properties"]["DestinationConfig"]["OnFailure"];
                assert_eq!(on_failure["Type"], "SQS", "{name}: no on-failure queue");
                let queue = attribute_of(&on_failure["Destination"]).unwrap().to_owned();
                assert_eq!(
                    resources[queue.as_str()]["Type"],
                    "AWS::SQS::Queue",
                    "{name}"
                );
                failure_queues.insert(queue);
            }
        }
    }
    assert!(failure_queues.len() == 1, "{failure_queues:?}");
    // Every dead-letter queue too.
    for (_, resource) in resources {
        let dead_letters = &resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"];
        if let Some(queue) = attribute_of(dead_letters) {
            failure_queues.insert(queue.to_owned());
        }
    }
    // Each of them alarms on its first message, to the operators' topic.
    for queue in &failure_queues {
        let alarmed = resources.values().any(|r| {
            r["Type"] == "AWS::CloudWatch::Alarm"
                && r["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && r["Properties"]["Threshold"] == 0
                && r["Properties"]["Dimensions"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|d| attribute_of(&d["Value"]) == Some(queue.as_str()))
                && r["Properties"]["AlarmActions"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|a| reference(a) == Some("OperatorAlarms"))
        });
        assert!(alarmed, "{queue} has no alarm on its depth");
    }
}

/// The functions that fetch URLs users give (avatar sync, Web Push and Expo, webhooks) have concurrency of
/// their own (a parameter; 0 for accounts that cannot reserve any), so slow endpoints cannot starve the rest.
#[test]
fn functions_that_fetch_user_urls_reserve_their_concurrency() {
    let template = template();
    let functions = functions(&template);
    for name in [
        "UsersFunction",
        "PushDispatchFunction",
        "WebhookDeliverFunction",
    ] {
        let reserved = &functions[name]["Properties"]["ReservedConcurrentExecutions"];
        let Value::Tagged(choice) = reserved else {
            panic!("{name} reserves no concurrency");
        };
        assert_eq!(choice.tag, "If", "{name}");
        assert_eq!(choice.value[0], "ReservesFetchConcurrency", "{name}");
        assert_eq!(
            reference(&choice.value[1]),
            Some("FetchConcurrency"),
            "{name}"
        );
    }
    assert_eq!(template["Parameters"]["FetchConcurrency"]["Default"], 20);
}

/// SES is granted to the mail sender alone, for `SendEmail` only, and the sender exists only when a sender
/// address is configured.
#[test]
fn only_the_mail_sender_may_send_mail() {
    let template = template();
    for (name, function) in functions(&template) {
        let text = serde_yaml::to_string(&function["Properties"]["Policies"]).unwrap();
        let actions: Vec<&str> = text
            .split_whitespace()
            .filter(|word| word.starts_with("ses:"))
            .collect();
        match name.as_str() {
            "MailSendFunction" => {
                assert_eq!(actions, ["ses:SendEmail"]);
                assert_eq!(function["Condition"], "SendsMail");
            }
            _ => assert!(actions.is_empty(), "{name} may send mail: {actions:?}"),
        }
    }
}

/// The alarms of the template, by logical id.
fn alarms(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// The metrics an alarm reads, as (namespace, metric name, dimensions): its one metric, or each metric of
/// its metric math.
fn metrics(alarm: &Value) -> Vec<(&Value, &Value, &Value)> {
    let properties = &alarm["Properties"];
    let mut found = vec![(
        &properties["Namespace"],
        &properties["MetricName"],
        &properties["Dimensions"],
    )];
    for query in properties["Metrics"].as_sequence().into_iter().flatten() {
        let metric = &query["MetricStat"]["Metric"];
        found.push((
            &metric["Namespace"],
            &metric["MetricName"],
            &metric["Dimensions"],
        ));
    }
    found
}

/// Whether an alarm reads `namespace`/`metric` with a dimension naming the resource `id` (`!Ref id` or
/// `!GetAtt id.Attr`).
fn reads(alarm: &Value, namespace: &str, metric: &str, id: &str) -> bool {
    metrics(alarm).into_iter().any(|(n, m, dimensions)| {
        n == namespace
            && m == metric
            && dimensions
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|d| reference(&d["Value"]).or_else(|| attribute_of(&d["Value"])) == Some(id))
    })
}

/// Every function, stream consumer and queue has its alarms, so a new one cannot be added without them; the
/// failure names each resource and the alarm it lacks.
#[test]
fn every_function_and_queue_has_its_alarms() {
    let template = template();
    let alarms = alarms(&template);
    let mut wanted: Vec<(String, Value, &str, &str)> = Vec::new();
    for (name, function) in functions(&template) {
        let condition = &function["Condition"];
        for metric in ["Errors", "Throttles"] {
            wanted.push((name.clone(), condition.clone(), "AWS/Lambda", metric));
        }
        let streams = function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .any(|(_, event)| event["Type"] == "DynamoDB");
        if streams {
            wanted.push((name.clone(), condition.clone(), "AWS/Lambda", "IteratorAge"));
        }
    }
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::SQS::Queue" {
            for metric in [
                "ApproximateNumberOfMessagesVisible",
                "ApproximateAgeOfOldestMessage",
            ] {
                let name = name.as_str().unwrap().to_owned();
                wanted.push((name, resource["Condition"].clone(), "AWS/SQS", metric));
            }
        }
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(id, condition, namespace, metric)| {
            // An alarm exists exactly when its resource does: the same `Condition`.
            !alarms.values().any(|alarm| {
                reads(alarm, namespace, metric, id) && alarm["Condition"] == *condition
            })
        })
        .map(|(id, condition, _, metric)| match condition.as_str() {
            Some(condition) => format!("{id}: no {metric} alarm with Condition {condition}"),
            None => format!("{id}: no {metric} alarm"),
        })
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The API's 5xx rate and p99 latency, and the table's throttles and system errors, alarm too.
#[test]
fn the_api_and_the_table_have_their_alarms() {
    let template = template();
    let alarms = alarms(&template);
    let alarmed = |namespace: &str, metric: &str, id: &str| {
        alarms
            .values()
            .any(|alarm| reads(alarm, namespace, metric, id))
    };
    for metric in ["5xx", "Count", "Latency"] {
        assert!(
            alarmed("AWS/ApiGateway", metric, "HttpApi"),
            "HttpApi: no {metric} alarm"
        );
    }
    assert!(
        alarms
            .values()
            .any(|a| a["Properties"]["MetricName"] == "Latency"
                && a["Properties"]["ExtendedStatistic"] == "p99"),
        "HttpApi: the latency alarm is not on p99"
    );
    for metric in ["ThrottledRequests", "SystemErrors"] {
        assert!(
            alarmed("AWS/DynamoDB", metric, "Table"),
            "Table: no {metric} alarm"
        );
    }
}

#[test]
fn every_alarm_notifies_the_operators() {
    let template = template();
    for (name, alarm) in alarms(&template) {
        let notifies = alarm["Properties"]["AlarmActions"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|a| reference(a) == Some("OperatorAlarms"));
        assert!(notifies, "{name} does not notify OperatorAlarms");
    }
    assert_eq!(
        template["Resources"]["OperatorAlarms"]["Type"],
        "AWS::SNS::Topic"
    );
}

/// The dashboard shows every function and every queue the alarms watch.
#[test]
fn the_dashboard_shows_every_function_and_queue() {
    let template = template();
    let dashboards: Vec<&Value> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Dashboard")
        .collect();
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let body = serde_yaml::to_string(&dashboards[0]["Properties"]["DashboardBody"]).unwrap();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let shown = match resource["Type"].as_str() {
            Some("AWS::Serverless::Function") => format!("${{{name}}}"),
            Some("AWS::SQS::Queue") => format!("${{{name}.QueueName}}"),
            _ => continue,
        };
        assert!(body.contains(&shown), "the dashboard does not show {name}");
    }
}

/// X-Ray is a parameter, off (PassThrough) unless asked for, applied to every function.
#[test]
fn tracing_is_a_parameter_off_by_default() {
    let template = template();
    let parameter = &template["Parameters"]["Tracing"];
    assert_eq!(parameter["Default"], "PassThrough");
    assert!(
        parameter["AllowedValues"]
            .as_sequence()
            .unwrap()
            .contains(&Value::from("Active"))
    );
    assert_eq!(
        reference(&template["Globals"]["Function"]["Tracing"]),
        Some("Tracing")
    );
    for (name, function) in functions(&template) {
        assert!(
            function["Properties"]["Tracing"].is_null(),
            "{name} overrides Tracing"
        );
    }
}
