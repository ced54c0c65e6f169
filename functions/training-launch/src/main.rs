//! Training launch worker (SQS, partial batch failures). Wiring only: configuration and
//! clients once per cold start, then every batch to [`training_launch::handle_batch`].

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use fluxbot::adapters::aws::AwsClients;
use fluxbot::config::{EnvReader, FalSettings, Resources, TelegramSettings};
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::training::TrainingSettings;
use fluxbot::pipeline::Pipeline;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (resources, telegram, fal, training, generation) = EnvReader::from_process().load::<(
        Resources,
        TelegramSettings,
        FalSettings,
        TrainingSettings,
        GenerationSettings,
    )>()?;
    let clients = AwsClients::from_env(&resources).await;
    let pipeline = Pipeline::on_aws(&clients, &resources, &telegram, fal, training, generation);
    pipeline.log_mode();
    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(training_launch::handle_batch(pipeline, event.payload).await)
    }))
    .await
}
