//! `template.yaml` and the code agree: the table layout the DynamoDB adapter uses, and the
//! operational settings the design promises.

use fluxbot::adapters::aws::TableLayout;
use fluxbot_tests::template::{self, Template, str_at};
use serde_norway::Value;

fn int(v: &Value, key: &str) -> i64 {
    v.get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{key} is not a number"))
}

#[test]
fn table_matches_the_adapter_layout() {
    let t = Template::load();
    let table = t.properties(template::TABLE);
    let keys: Vec<(&str, &str)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (str_at(k, "AttributeName"), str_at(k, "KeyType")))
        .collect();
    assert_eq!(
        keys,
        [
            (TableLayout::PARTITION_KEY, "HASH"),
            (TableLayout::SORT_KEY, "RANGE")
        ]
    );
    let gsi = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(str_at(gsi, "IndexName"), TableLayout::IN_FLIGHT_INDEX);
    let gsi_keys: Vec<&str> = gsi["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| str_at(k, "AttributeName"))
        .collect();
    assert_eq!(
        gsi_keys,
        [
            TableLayout::IN_FLIGHT_PARTITION_KEY,
            TableLayout::IN_FLIGHT_SORT_KEY
        ]
    );
    assert_eq!(str_at(&gsi["Projection"], "ProjectionType"), "KEYS_ONLY");
    assert_eq!(
        str_at(&table["TimeToLiveSpecification"], "AttributeName"),
        TableLayout::TTL_ATTRIBUTE
    );
    assert_eq!(str_at(table, "BillingMode"), "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn launch_queue_outlives_its_worker_and_dead_letters() {
    let t = Template::load();
    let queue = t.properties(template::LAUNCH_QUEUE);
    let worker = t.properties("TrainingLaunchFunction");
    assert!(
        int(queue, "VisibilityTimeout") >= 6 * int(worker, "Timeout"),
        "visibility timeout >= 6x function timeout"
    );
    assert!(int(&queue["RedrivePolicy"], "maxReceiveCount") >= 5);
    assert_eq!(
        int(queue, "VisibilityTimeout") as u64,
        fluxbot::backend::LAUNCH_VISIBILITY.as_secs(),
        "the embedded queue hides a received job as long as SQS does"
    );
    let events = &worker["Events"]["Launch"]["Properties"];
    assert_eq!(
        events["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
}

#[test]
fn bucket_is_private_and_encrypted() {
    let t = Template::load();
    let bucket = t.properties(template::BUCKET);
    let block = &bucket["PublicAccessBlockConfiguration"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[flag].as_bool(), Some(true), "{flag}");
    }
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert!(matches!(str_at(sse, "SSEAlgorithm"), "AES256" | "aws:kms"));
}

#[test]
fn pictures_and_their_records_expire_after_the_retention() {
    let t = Template::load();
    let table = t.properties(template::TABLE);
    assert_eq!(
        str_at(&table["TimeToLiveSpecification"], "AttributeName"),
        TableLayout::TTL_ATTRIBUTE
    );
    let rules = t.properties(template::BUCKET)["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .unwrap();
    let rule = rules
        .iter()
        .find(|r| r["Prefix"].as_str() == Some("generations/"))
        .expect("a lifecycle rule for generated pictures");
    let at = |parameters: &[(&str, &str)]| {
        (
            t.resolve(&rule["Status"], parameters).unwrap(),
            t.resolve(&rule["ExpirationInDays"], parameters).unwrap(),
        )
    };
    assert_eq!(at(&[]), ("Enabled".into(), "90".into()));
    assert_eq!(
        at(&[("RetentionDays", "30")]),
        ("Enabled".into(), "30".into())
    );
    assert_eq!(at(&[("RetentionDays", "off")]).0, "Disabled");
    // The conversation stamps the records with the same number of days.
    let env = t.environment_of("TelegramWebhookFunction", &[("RetentionDays", "30")]);
    assert!(
        env.contains(&("RETENTION_DAYS".into(), "30".into())),
        "{env:?}"
    );
}

#[test]
fn the_dashboard_shows_every_kind_of_paid_work_money_and_the_functions() {
    let t = Template::load();
    let sub = &t.properties("OperatorDashboard")["DashboardBody"];
    let serde_norway::Value::Tagged(tagged) = sub else {
        panic!("DashboardBody is a !Sub");
    };
    // CloudFormation fills in ${...}: every name must be a resource (or a pseudo parameter).
    let raw = tagged.value.as_str().unwrap();
    let names = regex_lite_names(raw);
    for name in &names {
        let resource = name.split('.').next().unwrap();
        assert!(
            resource.starts_with("AWS::") || t.resource(resource).is_mapping(),
            "${{{name}}} names nothing"
        );
    }
    let mut body = raw.to_owned();
    for name in &names {
        body = body.replace(&format!("${{{name}}}"), "x");
    }
    let body: serde_json::Value = serde_json::from_str(&body).expect("the body is JSON");
    let text = body.to_string();
    for kind in [
        "Trainings",
        "Generations",
        "Upscales",
        "Restyles",
        "PhotoPacks",
        "FirstLooks",
    ] {
        for phase in ["Started", "Completed", "Failed"] {
            assert!(text.contains(&format!("{kind}{phase}")), "{kind}{phase}");
        }
    }
    for metric in [
        "CreditsRefunded",
        "SpendCapReached",
        "CreditsPurchased",
        "PaymentsUnmatched",
        "OldestInFlightAge",
    ] {
        assert!(text.contains(metric), "{metric}");
    }
    for function in [
        "TelegramWebhookFunction",
        "TrainingLaunchFunction",
        "FalWebhookFunction",
        "StatusSweepFunction",
    ] {
        assert!(raw.contains(&format!("${{{function}}}")), "{function}");
    }
    assert!(text.contains("\"Errors\"") && text.contains("\"Duration\""));
    let url = &t.root["Outputs"]["DashboardUrl"]["Value"];
    assert!(format!("{url:?}").contains("OperatorDashboard"));
}

/// The `${...}` names of a `!Sub` string.
fn regex_lite_names(s: &str) -> Vec<String> {
    s.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

#[test]
fn every_function_builds_its_own_binary_for_arm64() {
    let t = Template::load();
    let functions = t.resources_of_type("AWS::Serverless::Function");
    let mut binaries: Vec<&str> = functions
        .iter()
        .map(|(_, f)| str_at(&f["Metadata"]["BuildProperties"], "Binary"))
        .collect();
    binaries.sort();
    assert_eq!(
        binaries,
        [
            "fal-webhook",
            "status-sweep",
            "telegram-webhook",
            "training-launch"
        ]
    );
    for (name, f) in &functions {
        assert_eq!(
            str_at(&f["Metadata"], "BuildMethod"),
            "rust-cargolambda",
            "{name}"
        );
        // Each binary is a workspace member under functions/.
        let binary = str_at(&f["Metadata"]["BuildProperties"], "Binary");
        let manifest = Template::path()
            .parent()
            .unwrap()
            .join("functions")
            .join(binary)
            .join("Cargo.toml");
        assert!(manifest.exists(), "{name}: {manifest:?}");
    }
    let globals = &t_root_globals();
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
}

fn t_root_globals() -> Value {
    let text = std::fs::read_to_string(Template::path()).unwrap();
    let root: Value = serde_norway::from_str(&text).unwrap();
    root["Globals"]["Function"].clone()
}

#[test]
fn alarms_watch_dead_letters_every_function_and_stuck_trainings() {
    let t = Template::load();
    let alarms: Vec<Value> = t
        .resources_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(_, a)| a["Properties"].clone())
        .collect();
    let dims = |a: &Value| serde_norway::to_string(&a["Dimensions"]).unwrap();
    let watching = |metric: &str, dimension: &str| {
        alarms
            .iter()
            .any(|a| str_at(a, "MetricName") == metric && dims(a).contains(dimension))
    };
    for (name, _) in t.resources_of_type("AWS::Serverless::Function") {
        assert!(watching("Errors", &name), "no error alarm for {name}");
    }
    assert!(watching(
        "ApproximateNumberOfMessagesVisible",
        "LaunchDeadLetterQueue"
    ));
    assert!(
        alarms
            .iter()
            .any(|a| str_at(a, "MetricName") == "TrainingsTimedOut"
                && str_at(a, "Namespace") == fluxbot::metrics::NAMESPACE)
    );
    for a in &alarms {
        assert!(
            serde_norway::to_string(&a["AlarmActions"])
                .unwrap()
                .contains("AlarmTopic"),
            "every alarm notifies the topic"
        );
    }
}

#[test]
fn each_function_gets_only_the_secrets_and_table_actions_it_uses() {
    let t = Template::load();
    let globals = t_root_globals();
    let global_env = serde_norway::to_string(&globals["Environment"]).unwrap();
    for secret in ["TELEGRAM_TOKEN", "FAL_KEY", "FAL_WEBHOOK_SECRET"] {
        assert!(!global_env.contains(secret), "{secret} must not be global");
    }
    let env = |name: &str| serde_norway::to_string(&t.properties(name)["Environment"]).unwrap();
    let policies = |name: &str| serde_norway::to_string(&t.properties(name)["Policies"]).unwrap();
    // The internet-facing conversation never calls fal.ai.
    assert!(!env("TelegramWebhookFunction").contains("FAL_"));
    assert!(env("TrainingLaunchFunction").contains("FAL_WEBHOOK_SECRET"));
    assert!(env("FalWebhookFunction").contains("FAL_WEBHOOK_SECRET"));
    assert!(!env("StatusSweepFunction").contains("FAL_WEBHOOK_SECRET"));
    for (name, _) in t.resources_of_type("AWS::Serverless::Function") {
        let p = policies(&name);
        assert!(
            !p.contains("DynamoDBCrudPolicy"),
            "{name}: no blanket table policy"
        );
        assert!(!p.contains("dynamodb:Scan"), "{name}: no Scan");
        assert!(
            !p.contains("dynamodb:*") && !p.contains("s3:*"),
            "{name}: no wildcards"
        );
    }
    assert!(policies("TelegramWebhookFunction").contains("dynamodb:DeleteItem"));
    assert!(!policies("FalWebhookFunction").contains("dynamodb:DeleteItem"));
}

/// Each function writes only the prefixes it fills: the conversation the photos, the launch
/// worker the archives (and, in test mode, what the simulated results keep).
#[test]
fn each_function_writes_only_its_own_prefixes() {
    let t = Template::load();
    let writes = |name: &str| -> Vec<String> {
        let policies = &t.properties(name)["Policies"];
        let mut resources = Vec::new();
        for policy in policies.as_sequence().unwrap() {
            let Some(statements) = policy.get("Statement").and_then(Value::as_sequence) else {
                continue;
            };
            for statement in statements {
                let actions = serde_norway::to_string(&statement["Action"]).unwrap();
                if actions.contains("s3:PutObject") {
                    resources.push(serde_norway::to_string(&statement["Resource"]).unwrap());
                }
            }
        }
        resources
    };
    let telegram = writes("TelegramWebhookFunction").join("\n");
    assert!(telegram.contains("/photos/*"), "{telegram}");
    for other in ["/archives/*", "/models/*", "/generations/*", "Arn}/*"] {
        assert!(
            !telegram.contains(other),
            "the conversation writes {other}: {telegram}"
        );
    }
    let launch = writes("TrainingLaunchFunction").join("\n");
    assert!(launch.contains("/archives/*"), "{launch}");
    assert!(
        !launch.contains("/photos/*") && !launch.contains("Arn}/*\""),
        "{launch}"
    );
    assert!(
        launch.contains("TestMode"),
        "models and pictures only in test mode: {launch}"
    );
}
