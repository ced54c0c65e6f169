//! Training launch worker (SQS, partial batch failures). Wiring only: configuration and
//! clients once per cold start, then every batch to [`training_launch::handle_batch`].

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use fluxbot::pipeline::Pipeline;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let pipeline = Pipeline::from_env().await?;
    pipeline.log_mode();
    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(training_launch::handle_batch(pipeline, event.payload).await)
    }))
    .await
}
