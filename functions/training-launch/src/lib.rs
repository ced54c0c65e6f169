//! The training-launch worker's SQS edge: each message is one job for the pipeline; the
//! ones that should come back are reported as batch item failures (the rest are deleted).
//! After `maxReceiveCount` receives a message moves to the dead-letter queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use fluxbot::domain::Timestamp;
use fluxbot::jobs::Job;
use fluxbot::pipeline::{JobOutcome, Pipeline};

pub async fn handle_batch(pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("job", message_id = %id);
        let _guard = span.enter();
        let job = match record.body.as_deref().map(Job::from_body) {
            Some(Ok(job)) => job,
            other => {
                // No retry will make it readable: drop it, loudly.
                tracing::error!(error = ?other.map(|r| r.err()), "unreadable launch message dropped");
                continue;
            }
        };
        match pipeline.run_job(job, Timestamp::now()).await {
            JobOutcome::Done => {}
            // Logged and counted by the pipeline; retrying cannot help, so it is deleted.
            JobOutcome::Abandoned(_) => {}
            JobOutcome::RetryLater(why) => {
                tracing::warn!(%why, "job returned to the queue");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
