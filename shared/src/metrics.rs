//! CloudWatch metrics in the embedded metric format (EMF): one JSON object per line on
//! stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics. No API
//! call, no extra permission. Emitted only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), so
//! tests and the local runner stay quiet.
//!
//! Namespace `FluxBot`. Metrics: `TrainingsStarted`, `TrainingsCompleted`, `TrainingsFailed`
//! (dimension `Kind`), `TrainingDuration` (seconds, `Kind`), `TrainingsTimedOut`,
//! `WebhookRejections` (`Source`: telegram | fal), `SweepRecoveries`, `OldestInFlightAge`
//! (seconds, each sweep), and the same Started/Completed/Failed for every kind of paid work;
//! the stack's dashboard (`OperatorDashboard` in template.yaml) shows them.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "FluxBot";

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

/// The EMF line for one metric value with its dimensions.
pub fn line(
    name: &str,
    value: f64,
    unit: &str,
    dimensions: &[(&str, &str)],
    now_ms: i64,
) -> String {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).into(), Value::String((*v).into()));
    }
    doc.insert(name.into(), json!(value));
    Value::Object(doc).to_string()
}

fn emit(name: &str, value: f64, unit: &str, dimensions: &[(&str, &str)]) {
    if enabled() {
        println!(
            "{}",
            line(
                name,
                value,
                unit,
                dimensions,
                crate::domain::Timestamp::now().0
            )
        );
    }
}

pub fn count(name: &str, dimensions: &[(&str, &str)]) {
    counts(name, 1, dimensions);
}

pub fn counts(name: &str, n: u32, dimensions: &[(&str, &str)]) {
    emit(name, f64::from(n), "Count", dimensions);
}

pub fn seconds(name: &str, value: f64, dimensions: &[(&str, &str)]) {
    emit(name, value, "Seconds", dimensions);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_emf_specification() {
        let l = line(
            "TrainingsStarted",
            1.0,
            "Count",
            &[("Kind", "portrait")],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "FluxBot");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Kind"]])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "TrainingsStarted", "Unit": "Count"}])
        );
        assert_eq!(v["Kind"], "portrait");
        assert_eq!(v["TrainingsStarted"], 1.0);
        assert!(!l.contains('\n'), "one line");
    }
}
