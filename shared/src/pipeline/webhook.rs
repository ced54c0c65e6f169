//! Applying an authenticated fal.ai webhook: route it to its avatar (by the recorded request
//! id, or by the attempt named in the webhook URL when the request id was never recorded) and
//! hand its outcome to the completion path.

use serde_json::Value;

use super::complete::{Completion, Outcome};
use super::{Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, AvatarId, AvatarState, FailureReason, FalRequest, Timestamp, UserId,
};
use crate::fal::training::PORTRAIT_TRAINER;
use crate::fal::webhook::{WebhookBody, WebhookStatus};
use crate::ports::FalTarget;

/// What the launch worker put in the webhook URL's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHint {
    pub owner: UserId,
    pub avatar_id: AvatarId,
    pub attempt: AttemptId,
    pub endpoint: String,
}

impl RouteHint {
    /// Reads `owner`, `avatar`, `attempt` and `endpoint` from a query string; `None` unless
    /// all four are present and well-formed.
    pub fn from_query(query: &str) -> Option<Self> {
        let mut owner = None;
        let mut avatar = None;
        let mut attempt = None;
        let mut endpoint = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "owner" => owner = v.parse().ok().map(UserId),
                "avatar" => avatar = v.parse().ok(),
                "attempt" => attempt = v.parse().ok(),
                "endpoint" => endpoint = Some(v.into_owned()),
                _ => {}
            }
        }
        Some(Self {
            owner: owner?,
            avatar_id: avatar?,
            attempt: attempt?,
            endpoint: endpoint?,
        })
    }
}

/// What became of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    Training(Completion),
    /// A generation's result: handled with generation (issue #5).
    Generation,
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
        let (owner, avatar_id, attempt) = match (recorded.map(|r| r.target), &hint) {
            (Some(FalTarget::Training { owner, avatar_id }), hint) => {
                (owner, avatar_id, hint.as_ref().map(|h| h.attempt))
            }
            (Some(FalTarget::Generation { .. }), _) => {
                tracing::info!(request = %body.request_id, "generation result: handled with generation (issue #5)");
                return Ok(WebhookResult::Generation);
            }
            (None, Some(hint)) => (hint.owner, hint.avatar_id, Some(hint.attempt)),
            (None, None) => {
                tracing::warn!(request = %body.request_id, "webhook for an unknown request ignored");
                return Ok(WebhookResult::Unknown);
            }
        };
        let endpoint = match (&hint, self.store.get_avatar(owner, avatar_id).await?) {
            (Some(hint), _) => hint.endpoint.clone(),
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
        (WebhookStatus::Ok, _) => Outcome::Failed(FailureReason::ProviderError {
            detail: body
                .payload_error
                .clone()
                .unwrap_or_else(|| "fal.ai returned no result".into()),
        }),
        (WebhookStatus::Error, payload) => {
            let details = payload
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
                Some(detail) => Outcome::Failed(FailureReason::Rejected { detail }),
                None => Outcome::Failed(FailureReason::ProviderError {
                    detail: body.error.clone().unwrap_or_else(|| "unknown error".into()),
                }),
            }
        }
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
            Some(RouteHint {
                owner: UserId(42),
                avatar_id: a,
                attempt: t,
                endpoint: "fal-ai/flux-lora-portrait-trainer".into()
            })
        );
        assert_eq!(RouteHint::from_query(&format!("owner=42&avatar={a}")), None);
        assert_eq!(
            RouteHint::from_query("owner=x&avatar=y&attempt=z&endpoint=e"),
            None
        );
    }
}
