//! Applying an authenticated fal.ai webhook (signature and token already checked by the
//! function's edge): the token's route names the record and attempt; the request id must be
//! the one we recorded for it, or, never recorded (a worker died between submit and record),
//! be confirmed by fal's status API under our own key before anything is adopted. Only then
//! is the outcome handed to the completion path.

use serde_json::Value;

use super::{Completion, FalBackend, GenerationOutcome, Pipeline, PipelineResult, TrainingOutcome};
use crate::domain::{FailureReason, FalRequest, GenerationState, Timestamp};
use crate::fal::FalError;
use crate::fal::webhook::{WebhookBody, WebhookStatus};
use crate::fal::webhook_token::WebhookRoute;
use crate::ports::FalTarget;

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    Training(Completion),
    Generation(Completion),
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
        let recorded = self
            .store
            .get_fal_request(&body.request_id)
            .await?
            .map(|r| r.target);
        match route {
            WebhookRoute::Training {
                owner,
                avatar_id,
                attempt,
                endpoint,
            } => {
                let ours = match recorded {
                    Some(FalTarget::Training {
                        owner: o,
                        avatar_id: a,
                    }) => o == *owner && a == *avatar_id,
                    Some(FalTarget::Generation { .. }) => false,
                    None => self.confirmed_by_fal(endpoint, &body.request_id).await?,
                };
                if !ours {
                    tracing::warn!(request = %body.request_id, avatar = %avatar_id, "webhook for a request we did not make for this avatar; ignored");
                    return Ok(WebhookResult::NotOurs);
                }
                let request = FalRequest {
                    request_id: body.request_id.clone(),
                    endpoint: endpoint.clone(),
                };
                let outcome = outcome_of(body, raw, endpoint);
                let completion = self
                    .complete_training(*owner, *avatar_id, &request, Some(*attempt), outcome, now)
                    .await?;
                Ok(WebhookResult::Training(completion))
            }
            WebhookRoute::Generation {
                owner,
                avatar_id,
                generation_id,
                endpoint,
            } => {
                let Some(generation) = self
                    .store
                    .get_generation(*avatar_id, *generation_id)
                    .await?
                else {
                    tracing::info!(generation = %generation_id, "result for a deleted generation ignored");
                    return Ok(WebhookResult::Generation(Completion::Gone));
                };
                let ours = generation.owner == *owner
                    && match recorded {
                        Some(FalTarget::Generation {
                            generation_id: g, ..
                        }) => g == *generation_id,
                        Some(FalTarget::Training { .. }) => false,
                        // Only a generation still waiting for its request id may take one
                        // we never recorded.
                        None => {
                            matches!(generation.state, GenerationState::Sending { .. })
                                && self.confirmed_by_fal(endpoint, &body.request_id).await?
                        }
                    };
                if !ours {
                    tracing::warn!(request = %body.request_id, generation = %generation_id, "webhook for a request we did not make for this generation; ignored");
                    return Ok(WebhookResult::NotOurs);
                }
                let outcome = match (body.status, &body.payload) {
                    (WebhookStatus::Ok, Some(payload)) if !payload.is_null() => {
                        GenerationOutcome::from_payload(payload, &generation)
                    }
                    _ => GenerationOutcome::Failed(failure_of(body)),
                };
                let request = FalRequest {
                    request_id: body.request_id.clone(),
                    endpoint: endpoint.clone(),
                };
                let completion = self
                    .complete_generation(&generation, &request, outcome, now)
                    .await?;
                Ok(WebhookResult::Generation(completion))
            }
        }
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

fn outcome_of(body: &WebhookBody, raw: &str, endpoint: &str) -> TrainingOutcome {
    match (body.status, &body.payload) {
        (WebhookStatus::Ok, Some(payload)) if !payload.is_null() => {
            match crate::fal::training::trained_model(endpoint, payload) {
                Ok(model) => TrainingOutcome::Succeeded(crate::domain::TrainingOutput {
                    model,
                    raw_response: raw.to_owned(),
                }),
                Err(problem) => {
                    TrainingOutcome::Failed(FailureReason::ProviderError { detail: problem })
                }
            }
        }
        _ => TrainingOutcome::Failed(failure_of(body)),
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
    use crate::fal::training::PORTRAIT_TRAINER;

    fn body(json: &str) -> WebhookBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn outcomes_of_every_webhook_shape() {
        let ok = r#"{"request_id":"r","gateway_request_id":"g","status":"OK","payload":{"diffusers_lora_file":{"url":"https://f/l.safetensors"},"config_file":{"url":"https://f/c.json"}}}"#;
        assert!(
            matches!(outcome_of(&body(ok), ok, PORTRAIT_TRAINER), TrainingOutcome::Succeeded(o) if o.raw_response == ok)
        );
        let rejected = r#"{"request_id":"r","status":"ERROR","error":"Invalid status code: 422","payload":{"detail":[{"loc":["body","images_data_url"],"msg":"Could not download the archive","type":"file_download_error"}]}}"#;
        assert_eq!(
            outcome_of(&body(rejected), rejected, PORTRAIT_TRAINER),
            TrainingOutcome::Failed(FailureReason::Rejected {
                detail: "Could not download the archive".into()
            })
        );
        let error =
            r#"{"request_id":"r","status":"ERROR","error":"Internal error","payload":null}"#;
        assert_eq!(
            outcome_of(&body(error), error, PORTRAIT_TRAINER),
            TrainingOutcome::Failed(FailureReason::ProviderError {
                detail: "Internal error".into()
            })
        );
        let unserializable = r#"{"request_id":"r","status":"OK","payload":null,"payload_error":"Response payload is not JSON serializable"}"#;
        assert_eq!(
            outcome_of(&body(unserializable), unserializable, PORTRAIT_TRAINER),
            TrainingOutcome::Failed(FailureReason::ProviderError {
                detail: "Response payload is not JSON serializable".into()
            })
        );
    }
}
