//! Status sweep (EventBridge schedule, every minute).
//!
//! Wiring only. Until reconciliation lands (issue #4) it reports what is in flight and for how
//! long, reading only the in-flight index.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use fluxbot::adapters::aws::AwsClients;
use fluxbot::config::{EnvReader, FalSettings, Resources};
use fluxbot::domain::Timestamp;
use fluxbot::ports::RecordStore;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (resources, fal) = EnvReader::from_process().load::<(Resources, FalSettings)>()?;
    let store = AwsClients::from_env(&resources).await.store(&resources);
    let (store, fal) = (&store, &fal);
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            let now = Timestamp::now();
            let page = store
                .list_in_flight(now.minus(fal.status_check_interval), 100, None)
                .await?;
            let oldest_secs = page.items.first().map(|i| now.since(i.since).as_secs());
            tracing::info!(
                due = page.items.len(),
                more = page.next.is_some(),
                ?oldest_secs,
                "in-flight work due for a status check"
            );
            Ok::<_, Error>(())
        },
    ))
    .await
}
