//! Reads `template.yaml` and creates its table, queues and bucket in the emulator, so tests
//! run against exactly the resources production gets: one source of truth.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use fluxbot::adapters::aws::{Resources, ServerSideEncryption as Sse};
use serde_norway::Value;

pub const TABLE: &str = "RecordsTable";
pub const LAUNCH_QUEUE: &str = "LaunchQueue";
pub const LAUNCH_DLQ: &str = "LaunchDeadLetterQueue";
pub const BUCKET: &str = "MediaBucket";

/// The parsed template.
pub struct Template {
    pub root: Value,
}

impl Template {
    pub fn path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
    }

    pub fn load() -> Self {
        let text = std::fs::read_to_string(Self::path()).expect("read template.yaml");
        Self {
            root: serde_norway::from_str(&text).expect("template.yaml parses as YAML"),
        }
    }

    pub fn resource(&self, logical_id: &str) -> &Value {
        self.root
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .unwrap_or_else(|| panic!("template has no {logical_id}"))
    }

    pub fn properties(&self, logical_id: &str) -> &Value {
        self.resource(logical_id)
            .get("Properties")
            .unwrap_or_else(|| panic!("{logical_id} has no Properties"))
    }

    pub fn resources_of_type(&self, kind: &str) -> Vec<(String, &Value)> {
        let Some(Value::Mapping(resources)) = self.root.get("Resources") else {
            return vec![];
        };
        resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(k, r)| Some((k.as_str()?.to_owned(), r)))
            .collect()
    }
}

impl Template {
    /// A function's environment variables as CloudFormation sets them for a stack with these
    /// parameter values (the others at their defaults): the Globals', then the function's
    /// own. Variables that name a resource (its name, URL or ARN) are left out: tests make
    /// their own resources.
    pub fn environment_of(
        &self,
        function: &str,
        parameters: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let globals = &self.root["Globals"]["Function"]["Environment"]["Variables"];
        let own = &self.properties(function)["Environment"]["Variables"];
        let mut env = Vec::new();
        for variables in [globals, own] {
            let Some(map) = variables.as_mapping() else {
                continue;
            };
            for (name, value) in map {
                let (Some(name), Some(value)) = (name.as_str(), self.resolve(value, parameters))
                else {
                    continue;
                };
                env.retain(|(n, _): &(String, String)| n != name);
                env.push((name.to_owned(), value));
            }
        }
        env
    }

    /// A value as CloudFormation resolves it: scalars, `!Ref` of a parameter and `!If` on the
    /// template's conditions; `None` for what names a resource.
    pub fn resolve(&self, value: &Value, parameters: &[(&str, &str)]) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Tagged(tagged) => {
                let args = &tagged.value;
                match tagged.tag.to_string().as_str() {
                    "!Ref" => {
                        let name = args.as_str()?;
                        if let Some((_, v)) = parameters.iter().find(|(p, _)| *p == name) {
                            return Some((*v).to_owned());
                        }
                        let parameter = self.root["Parameters"].get(name)?;
                        self.resolve(parameter.get("Default")?, parameters)
                    }
                    "!If" => {
                        let [condition, then, otherwise] = args.as_sequence()?.as_slice() else {
                            return None;
                        };
                        if self.condition(condition.as_str()?, parameters)? {
                            self.resolve(then, parameters)
                        } else {
                            self.resolve(otherwise, parameters)
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A condition of the template's `Conditions`, evaluated for these parameters.
    fn condition(&self, name: &str, parameters: &[(&str, &str)]) -> Option<bool> {
        let Value::Tagged(tagged) = self.root["Conditions"].get(name)? else {
            return None;
        };
        let args = tagged.value.as_sequence()?;
        match tagged.tag.to_string().as_str() {
            "!Equals" => {
                let [a, b] = args.as_slice() else { return None };
                Some(self.resolve(a, parameters)? == self.resolve(b, parameters)?)
            }
            _ => None,
        }
    }
}

pub fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected a string at {key} in {v:?}"))
}

fn list_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn number_at(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    list_at(v, "KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(str_at(k, "AttributeName"))
                .key_type(KeyType::from(str_at(k, "KeyType")))
                .build()
                .expect("key schema element")
        })
        .collect()
}

/// Creates every resource under fresh names (tests share one emulator) and returns the
/// configuration the functions would get from the template's outputs.
pub async fn provision(sdk: &SdkConfig) -> Resources {
    let template = Template::load();
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let table_name = format!("records-{suffix}");
    create_table(sdk, &template, &table_name).await;
    let launch_queue_url = create_queues(sdk, &template, &suffix).await;
    let bucket_name = format!("media-{suffix}");
    create_bucket(sdk, &template, &bucket_name).await;
    Resources {
        table_name,
        launch_queue_url,
        bucket_name,
        s3_force_path_style: true,
        s3_encryption: Sse::S3Managed,
    }
}

async fn create_table(sdk: &SdkConfig, template: &Template, name: &str) {
    let props = template.properties(TABLE);
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let attributes = list_at(props, "AttributeDefinitions")
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(str_at(a, "AttributeName"))
                .attribute_type(ScalarAttributeType::from(str_at(a, "AttributeType")))
                .build()
                .expect("attribute definition")
        })
        .collect();
    let indexes: Vec<GlobalSecondaryIndex> = list_at(props, "GlobalSecondaryIndexes")
        .iter()
        .map(|gsi| {
            let projection = gsi.get("Projection").expect("GSI projection");
            GlobalSecondaryIndex::builder()
                .index_name(str_at(gsi, "IndexName"))
                .set_key_schema(Some(key_schema(gsi)))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(str_at(projection, "ProjectionType")))
                        .set_non_key_attributes(
                            projection
                                .get("NonKeyAttributes")
                                .and_then(Value::as_sequence)
                                .map(|attrs| {
                                    attrs
                                        .iter()
                                        .filter_map(|a| a.as_str().map(str::to_owned))
                                        .collect()
                                }),
                        )
                        .build(),
                )
                .build()
                .expect("GSI")
        })
        .collect();
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(props)))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(BillingMode::from(str_at(props, "BillingMode")))
        .send()
        .await
        .expect("create table");
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(str_at(ttl, "AttributeName"))
                    .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
                    .build()
                    .expect("TTL spec"),
            )
            .send()
            .await
            .expect("enable TTL");
    }
}

fn queue_attributes(
    props: &Value,
    dlq_arns: &HashMap<String, String>,
) -> HashMap<QueueAttributeName, String> {
    let mut attributes = HashMap::new();
    for (name, attribute) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        (
            "MessageRetentionPeriod",
            QueueAttributeName::MessageRetentionPeriod,
        ),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
    ] {
        if let Some(value) = number_at(props, name) {
            attributes.insert(attribute, value.to_string());
        }
    }
    if let Some(redrive) = props.get("RedrivePolicy") {
        let target = redrive
            .get("deadLetterTargetArn")
            .expect("deadLetterTargetArn");
        // `!GetAtt Queue.Arn` arrives as a tagged scalar "Queue.Arn".
        let logical = match target {
            Value::Tagged(tagged) => tagged
                .value
                .as_str()
                .expect("GetAtt target")
                .trim_end_matches(".Arn")
                .to_owned(),
            other => panic!("unsupported deadLetterTargetArn {other:?}"),
        };
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arns.get(&logical).unwrap_or_else(|| panic!("dead-letter queue {logical} not created first")),
            "maxReceiveCount": number_at(redrive, "maxReceiveCount").expect("maxReceiveCount"),
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    attributes
}

async fn create_queues(sdk: &SdkConfig, template: &Template, suffix: &str) -> String {
    let client = aws_sdk_sqs::Client::new(sdk);
    let mut arns = HashMap::new();
    let mut urls = HashMap::new();
    // Dead-letter queue before the queue that points at it.
    for logical in [LAUNCH_DLQ, LAUNCH_QUEUE] {
        let props = template.properties(logical);
        let out = client
            .create_queue()
            .queue_name(format!("{}-{suffix}", logical.to_lowercase()))
            .set_attributes(Some(queue_attributes(props, &arns)))
            .send()
            .await
            .expect("create queue");
        let url = out.queue_url.expect("queue url");
        let attrs = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let arn = attrs
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("queue ARN");
        arns.insert(logical.to_owned(), arn);
        urls.insert(logical, url);
    }
    urls.remove(LAUNCH_QUEUE).expect("launch queue URL")
}

async fn create_bucket(sdk: &SdkConfig, template: &Template, name: &str) {
    let props = template.properties(BUCKET);
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    client
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("create bucket");
    if let Some(encryption) = props.get("BucketEncryption") {
        let rules = list_at(encryption, "ServerSideEncryptionConfiguration")
            .iter()
            .map(|rule| {
                let default = rule
                    .get("ServerSideEncryptionByDefault")
                    .expect("default encryption");
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::from(str_at(
                                default,
                                "SSEAlgorithm",
                            )))
                            .build()
                            .expect("encryption default"),
                    )
                    .set_bucket_key_enabled(rule.get("BucketKeyEnabled").and_then(Value::as_bool))
                    .build()
            })
            .collect();
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .expect("encryption config"),
            )
            .send()
            .await
            .expect("bucket encryption");
    }
    if let Some(block) = props.get("PublicAccessBlockConfiguration") {
        let flag = |k: &str| block.get(k).and_then(Value::as_bool);
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .set_block_public_acls(flag("BlockPublicAcls"))
                    .set_block_public_policy(flag("BlockPublicPolicy"))
                    .set_ignore_public_acls(flag("IgnorePublicAcls"))
                    .set_restrict_public_buckets(flag("RestrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .expect("public access block");
    }
    if let Some(lifecycle) = props.get("LifecycleConfiguration") {
        let rules = list_at(lifecycle, "Rules")
            .iter()
            .map(|rule| {
                let filter = LifecycleRuleFilter::builder()
                    .prefix(rule.get("Prefix").and_then(Value::as_str).unwrap_or(""))
                    .build();
                // Resolved as CloudFormation would for a stack at the parameters' defaults.
                let status = template
                    .resolve(&rule["Status"], &[])
                    .expect("a lifecycle rule's status");
                let days = rule
                    .get("ExpirationInDays")
                    .and_then(|d| template.resolve(d, &[]))
                    .map(|d| d.parse::<i32>().expect("expiration days"));
                LifecycleRule::builder()
                    .id(str_at(rule, "Id"))
                    .status(ExpirationStatus::from(status.as_str()))
                    .filter(filter)
                    .set_expiration(days.map(|d| LifecycleExpiration::builder().days(d).build()))
                    .set_abort_incomplete_multipart_upload(
                        rule.get("AbortIncompleteMultipartUpload").and_then(|a| {
                            number_at(a, "DaysAfterInitiation").map(|d| {
                                AbortIncompleteMultipartUpload::builder()
                                    .days_after_initiation(d as i32)
                                    .build()
                            })
                        }),
                    )
                    .build()
                    .expect("lifecycle rule")
            })
            .collect();
        client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .expect("lifecycle"),
            )
            .send()
            .await
            .expect("bucket lifecycle");
    }
}
