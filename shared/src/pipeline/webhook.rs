//! Applying an authenticated fal.ai webhook: route it to its avatar or generation (by the
//! recorded request id, or by what the webhook URL names when the request id was never
//! recorded) and hand its outcome to the completion path.

use serde_json::Value;

use super::complete::{Completion, Outcome};
use super::generate::GenerationOutcome;
use super::{Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, AvatarId, AvatarState, FailureReason, FalRequest, GenerationId, GenerationState,
    Timestamp, UserId,
};
use crate::fal::generation::FLUX_LORA;
use crate::fal::training::PORTRAIT_TRAINER;
use crate::fal::webhook::{WebhookBody, WebhookStatus};
use crate::ports::FalTarget;

/// What the launch worker put in the webhook URL's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteHint {
    /// A training attempt of an avatar, submitted to the trainer `endpoint`.
    Training {
        owner: UserId,
        avatar_id: AvatarId,
        attempt: AttemptId,
        endpoint: String,
    },
    Generation {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
    },
}

impl RouteHint {
    /// Reads `owner` and `avatar`, then `generation`, or `attempt` and `endpoint`, from a
    /// query string; `None` unless one complete, well-formed set is present.
    pub fn from_query(query: &str) -> Option<Self> {
        let mut owner = None;
        let mut avatar = None;
        let mut attempt = None;
        let mut endpoint = None;
        let mut generation = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "owner" => owner = v.parse().ok().map(UserId),
                "avatar" => avatar = v.parse().ok(),
                "attempt" => attempt = v.parse().ok(),
                "endpoint" => endpoint = Some(v.into_owned()),
                "generation" => generation = Some(v.parse().ok()?),
                _ => {}
            }
        }
        let (owner, avatar_id) = (owner?, avatar?);
        Some(match generation {
            Some(generation_id) => RouteHint::Generation {
                owner,
                avatar_id,
                generation_id,
            },
            None => RouteHint::Training {
                owner,
                avatar_id,
                attempt: attempt?,
                endpoint: endpoint?,
            },
        })
    }
}

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    Training(Completion),
    Generation(Completion),
    /// Neither recorded nor routable: not ours, or long forgotten.
    Unknown,
}

impl Pipeline {
    /// `raw` is the webhook body exactly as received; it is kept with the outcome.
    pub async fn apply_webhook(
        &self,
        body: &WebhookBody,
        raw: &str,
        hint: Option<RouteHint>,
        now: Timestamp,
    ) -> PipelineResult<WebhookResult> {
        let recorded = self.store.get_fal_request(&body.request_id).await?;
        let training_hint = match &hint {
            Some(RouteHint::Training {
                attempt, endpoint, ..
            }) => Some((*attempt, endpoint.clone())),
            _ => None,
        };
        let (owner, avatar_id, attempt) = match (recorded.map(|r| r.target), hint) {
            (
                Some(FalTarget::Generation {
                    avatar_id,
                    generation_id,
                    ..
                }),
                _,
            )
            | (
                None,
                Some(RouteHint::Generation {
                    avatar_id,
                    generation_id,
                    ..
                }),
            ) => {
                return self
                    .apply_generation_webhook(body, avatar_id, generation_id, now)
                    .await;
            }
            (Some(FalTarget::Training { owner, avatar_id }), _) => {
                (owner, avatar_id, training_hint.as_ref().map(|h| h.0))
            }
            (
                None,
                Some(RouteHint::Training {
                    owner,
                    avatar_id,
                    attempt,
                    ..
                }),
            ) => (owner, avatar_id, Some(attempt)),
            (None, None) => {
                tracing::warn!(request = %body.request_id, "webhook for an unknown request ignored");
                return Ok(WebhookResult::Unknown);
            }
        };
        let endpoint = match (
            &training_hint,
            self.store.get_avatar(owner, avatar_id).await?,
        ) {
            (Some((_, endpoint)), _) => endpoint.clone(),
            (None, Some(avatar)) => match avatar.state {
                AvatarState::Training { request, .. } | AvatarState::Completed { request, .. } => {
                    request.endpoint
                }
                _ => PORTRAIT_TRAINER.to_owned(),
            },
            (None, None) => return Ok(WebhookResult::Training(Completion::AvatarGone)),
        };
        let outcome = outcome_of(body, raw, &endpoint);
        let request = FalRequest {
            request_id: body.request_id.clone(),
            endpoint,
        };
        let completion = self
            .complete(owner, avatar_id, &request, attempt, outcome, now)
            .await?;
        Ok(WebhookResult::Training(completion))
    }

    async fn apply_generation_webhook(
        &self,
        body: &WebhookBody,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        now: Timestamp,
    ) -> PipelineResult<WebhookResult> {
        let Some(generation) = self.store.get_generation(avatar_id, generation_id).await? else {
            tracing::info!(generation = %generation_id, "result for a deleted generation ignored");
            return Ok(WebhookResult::Generation(Completion::AvatarGone));
        };
        let endpoint = match &generation.state {
            GenerationState::InProgress { request, .. }
            | GenerationState::Completed { request, .. } => request.endpoint.clone(),
            // Submitted but not recorded: the endpoint only matters for the record.
            _ => FLUX_LORA.to_owned(),
        };
        let outcome = match (body.status, &body.payload) {
            (WebhookStatus::Ok, Some(payload)) if !payload.is_null() => {
                GenerationOutcome::from_payload(payload)
            }
            _ => GenerationOutcome::Failed(failure_of(body)),
        };
        let request = FalRequest {
            request_id: body.request_id.clone(),
            endpoint,
        };
        let completion = self
            .complete_generation(&generation, &request, outcome, now)
            .await?;
        Ok(WebhookResult::Generation(completion))
    }
}

fn outcome_of(body: &WebhookBody, raw: &str, endpoint: &str) -> Outcome {
    match (body.status, &body.payload) {
        (WebhookStatus::Ok, Some(payload)) if !payload.is_null() => {
            match crate::fal::training::trained_model(endpoint, payload) {
                Ok(model) => Outcome::Succeeded(crate::domain::TrainingOutput {
                    model,
                    raw_response: raw.to_owned(),
                }),
                Err(problem) => Outcome::Failed(FailureReason::ProviderError { detail: problem }),
            }
        }
        _ => Outcome::Failed(failure_of(body)),
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
    fn outcomes_of_every_webhook_shape() {
        let ok = r#"{"request_id":"r","gateway_request_id":"g","status":"OK","payload":{"diffusers_lora_file":{"url":"https://f/l.safetensors"},"config_file":{"url":"https://f/c.json"}}}"#;
        assert!(
            matches!(outcome_of(&body(ok), ok, PORTRAIT_TRAINER), Outcome::Succeeded(o) if o.raw_response == ok)
        );
        let rejected = r#"{"request_id":"r","status":"ERROR","error":"Invalid status code: 422","payload":{"detail":[{"loc":["body","images_data_url"],"msg":"Could not download the archive","type":"file_download_error"}]}}"#;
        assert_eq!(
            outcome_of(&body(rejected), rejected, PORTRAIT_TRAINER),
            Outcome::Failed(FailureReason::Rejected {
                detail: "Could not download the archive".into()
            })
        );
        let error =
            r#"{"request_id":"r","status":"ERROR","error":"Internal error","payload":null}"#;
        assert_eq!(
            outcome_of(&body(error), error, PORTRAIT_TRAINER),
            Outcome::Failed(FailureReason::ProviderError {
                detail: "Internal error".into()
            })
        );
        let unserializable = r#"{"request_id":"r","status":"OK","payload":null,"payload_error":"Response payload is not JSON serializable"}"#;
        assert_eq!(
            outcome_of(&body(unserializable), unserializable, PORTRAIT_TRAINER),
            Outcome::Failed(FailureReason::ProviderError {
                detail: "Response payload is not JSON serializable".into()
            })
        );
    }

    #[test]
    fn route_hints_need_all_four_parts() {
        let (a, t) = (AvatarId::new(), AttemptId::new());
        let q =
            format!("owner=42&avatar={a}&attempt={t}&endpoint=fal-ai%2Fflux-lora-portrait-trainer");
        assert_eq!(
            RouteHint::from_query(&q),
            Some(RouteHint::Training {
                owner: UserId(42),
                avatar_id: a,
                attempt: t,
                endpoint: "fal-ai/flux-lora-portrait-trainer".into()
            })
        );
        let g = GenerationId::new();
        assert_eq!(
            RouteHint::from_query(&format!("owner=42&avatar={a}&generation={g}")),
            Some(RouteHint::Generation {
                owner: UserId(42),
                avatar_id: a,
                generation_id: g
            })
        );
        assert_eq!(
            RouteHint::from_query(&format!("owner=42&avatar={a}&generation=nope")),
            None
        );
        assert_eq!(RouteHint::from_query(&format!("owner=42&avatar={a}")), None);
        assert_eq!(
            RouteHint::from_query("owner=x&avatar=y&attempt=z&endpoint=e"),
            None
        );
    }
}
