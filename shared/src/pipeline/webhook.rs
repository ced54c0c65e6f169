//! Applying an authenticated fal.ai webhook (signature and token already checked by the
//! function's edge): the token's route names the work and attempt; the request id must be the
//! one we recorded for that work, or, never recorded (a worker died between submit and
//! record), be confirmed by fal's status API under our own key before anything is adopted.
//! Only then is the outcome handed to the engine's completion path for its kind.

use serde_json::Value;

use super::engine::{Completion, Payload};
use super::{FalBackend, Pipeline, PipelineResult, kinds};
use crate::domain::{FailureReason, FalRequest, Timestamp, WorkKind};
use crate::fal::FalError;
use crate::fal::webhook::{WebhookBody, WebhookStatus};
use crate::fal::webhook_token::WebhookRoute;

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// Handed to the completion path of its kind of work.
    Applied {
        kind: WorkKind,
        completion: Completion,
    },
    /// A request we did not make for this route (replayed or forged through fal): ignored,
    /// nothing fetched.
    NotOurs,
}

impl Pipeline {
    /// `raw` is the webhook body exactly as received; it is kept with the outcome.
    pub async fn apply_webhook(
        &self,
        body: &WebhookBody,
        raw: &str,
        route: &WebhookRoute,
        now: Timestamp,
    ) -> PipelineResult<WebhookResult> {
        let work = route.work;
        let ours = match self.store.get_fal_request(&body.request_id).await? {
            Some(recorded) => recorded.work == work,
            // Never recorded (a worker died between submit and record): ours only if fal's
            // status API, asked with our key, knows it.
            None => {
                self.confirmed_by_fal(&route.endpoint, &body.request_id)
                    .await?
            }
        };
        if !ours {
            tracing::warn!(request = %body.request_id, %work, "webhook for a request we did not make for this work; ignored");
            return Ok(WebhookResult::NotOurs);
        }
        let request = FalRequest {
            request_id: body.request_id.clone(),
            endpoint: route.endpoint.clone(),
        };
        let result = match (body.status, &body.payload) {
            (WebhookStatus::Ok, Some(payload)) if !payload.is_null() => Ok(Payload {
                json: payload.clone(),
                raw: raw.to_owned(),
            }),
            _ => Err(failure_of(body)),
        };
        let completion = kinds::driver(work.kind)
            .complete(self, &work, &request, Some(route.attempt), result, now)
            .await?;
        Ok(WebhookResult::Applied {
            kind: work.kind,
            completion,
        })
    }

    /// Whether fal.ai, asked with our key, knows `request_id`: only our own requests are
    /// visible to us. A transient failure is an error (fal retries the webhook).
    async fn confirmed_by_fal(&self, endpoint: &str, request_id: &str) -> PipelineResult<bool> {
        let FalBackend::Live(client) = &self.fal else {
            return Ok(false); // Test mode hands out no webhook URLs.
        };
        match client.status(endpoint, request_id, false).await {
            Ok(_) => {
                tracing::info!(%request_id, "fal.ai confirms an unrecorded request is ours");
                Ok(true)
            }
            Err(FalError::NotFound | FalError::Unauthorized { .. } | FalError::Rejected { .. }) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Why fal.ai says a request failed: its validation details (422) as a refusal, anything
/// else as a provider error.
fn failure_of(body: &WebhookBody) -> FailureReason {
    if body.status == WebhookStatus::Ok {
        return FailureReason::ProviderError {
            detail: body
                .payload_error
                .clone()
                .unwrap_or_else(|| "fal.ai returned no result".into()),
        };
    }
    let details = body
        .payload
        .as_ref()
        .map(|p| &p["detail"])
        .and_then(|d| match d {
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i["msg"].as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .filter(|d| !d.is_empty());
    match details {
        Some(detail) => FailureReason::Rejected { detail },
        None => FailureReason::ProviderError {
            detail: body.error.clone().unwrap_or_else(|| "unknown error".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> WebhookBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn failures_of_every_webhook_shape() {
        let rejected = r#"{"request_id":"r","status":"ERROR","error":"Invalid status code: 422","payload":{"detail":[{"loc":["body","images_data_url"],"msg":"Could not download the archive","type":"file_download_error"}]}}"#;
        assert_eq!(
            failure_of(&body(rejected)),
            FailureReason::Rejected {
                detail: "Could not download the archive".into()
            }
        );
        let error =
            r#"{"request_id":"r","status":"ERROR","error":"Internal error","payload":null}"#;
        assert_eq!(
            failure_of(&body(error)),
            FailureReason::ProviderError {
                detail: "Internal error".into()
            }
        );
        let unserializable = r#"{"request_id":"r","status":"OK","payload":null,"payload_error":"Response payload is not JSON serializable"}"#;
        assert_eq!(
            failure_of(&body(unserializable)),
            FailureReason::ProviderError {
                detail: "Response payload is not JSON serializable".into()
            }
        );
    }
}
