//! Status sweep (EventBridge schedule, every minute). Wiring only: each run hands
//! [`fluxbot::pipeline::Pipeline::sweep`] a deadline 10 s before the function's own.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use fluxbot::domain::Timestamp;
use fluxbot::pipeline::Pipeline;
use lambda_runtime::{Error, LambdaEvent, service_fn};

const MARGIN: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let pipeline = Pipeline::from_env().await?;
    pipeline.log_mode();
    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            let deadline = Instant::now() + left.saturating_sub(MARGIN);
            let report = pipeline.sweep(Timestamp::now(), deadline).await?;
            Ok::<_, Error>(serde_json::json!({
                "checked": report.checked, "completed": report.completed, "failed": report.failed,
                "timed_out": report.timed_out, "relaunched": report.relaunched,
                "notices_sent": report.notices_sent, "errors": report.errors,
                "truncated": report.truncated,
            }))
        },
    ))
    .await
}
