//! Training launch worker (SQS, partial batch failures).
//!
//! Wiring only. Until the launch use case lands (issue #4) every message is reported as
//! failed, so it returns to the queue (and, after maxReceiveCount, the dead-letter queue)
//! instead of being lost.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use fluxbot::adapters::aws::AwsClients;
use fluxbot::config::{EnvReader, FalSettings, Resources, TelegramSettings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (resources, _telegram, _fal) =
        EnvReader::from_process().load::<(Resources, TelegramSettings, FalSettings)>()?;
    let clients = AwsClients::from_env(&resources).await;
    let _store = clients.store(&resources);
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        tracing::warn!(message_id = ?record.message_id, "launch message left on the queue: the launch use case is not wired yet");
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = record.message_id.unwrap_or_default();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}
