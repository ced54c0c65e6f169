use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::OnFirstUse;
use super::error::AwsError;
use crate::ports::queue::{JobQueue, QueueDelay, QueueError, Receipt, ReceivedMessage};

/// [`JobQueue`] on one SQS queue.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: OnFirstUse<Client>,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: impl Into<OnFirstUse<Client>>, queue_url: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            queue_url: queue_url.into(),
        }
    }
}

fn sdk_err<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_sqs::error::SdkError<E>,
) -> QueueError {
    QueueError::backend(AwsError::from_sdk(e))
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send(&self, body: &str, delay: QueueDelay) -> Result<String, QueueError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::from(delay.as_secs()))
            .send()
            .await
            .map_err(sdk_err)?;
        out.message_id
            .ok_or_else(|| QueueError::backend(AwsError::msg("SQS returned no message id")))
    }

    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(ReceivedMessage {
                    message_id: m.message_id?,
                    body: m.body.unwrap_or_default(),
                    receipt: Receipt(m.receipt_handle?),
                    receive_count,
                })
            })
            .collect())
    }

    async fn ack(&self, receipt: &Receipt) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn release(&self, receipt: &Receipt, delay: QueueDelay) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(i32::from(delay.as_secs()))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}
