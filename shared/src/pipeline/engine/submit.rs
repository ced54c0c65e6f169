//! The submit step every kind of paid work shares: what a submit's answer means for
//! payment. Only an answer that proves fal.ai did not queue the request lets the record go
//! back for another try; anything unclear keeps the intent and waits for the result.

use url::Url;

use super::super::Pipeline;
use crate::domain::FailureReason;
use crate::fal::webhook_token::WebhookRoute;
use crate::fal::{FalError, Submitted};

/// What a submit's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubmitOutcome {
    /// Queued at fal.ai under this request id.
    Accepted(String),
    /// Provably not queued (connection refused, 429): may be tried again.
    NotSent(String),
    /// Refused for good (4xx): the record fails and the user is told why.
    Refused(FailureReason),
    /// Maybe queued (timeout, 5xx, unreadable answer): never submitted again; the result
    /// or the wait window decides.
    Unknown(String),
}

impl SubmitOutcome {
    pub(super) fn of(result: Result<Submitted, FalError>) -> Self {
        match result {
            Ok(submitted) => SubmitOutcome::Accepted(submitted.request_id),
            Err(FalError::SubmitOutcomeUnknown(why)) => SubmitOutcome::Unknown(why),
            Err(FalError::Unauthorized { .. }) => {
                SubmitOutcome::Refused(FailureReason::Unauthorized)
            }
            Err(e @ (FalError::Rejected { .. } | FalError::NotFound)) => {
                SubmitOutcome::Refused(FailureReason::Rejected {
                    detail: e.to_string(),
                })
            }
            // Only connect errors and 429s end as `Unavailable` for a submit; a bad URL is
            // ours and never left either.
            Err(e @ (FalError::Unavailable { .. } | FalError::Protocol(_))) => {
                SubmitOutcome::NotSent(e.to_string())
            }
        }
    }
}

impl Pipeline {
    /// The webhook URL for `route`, with its token; `None` when results are collected by the
    /// sweep alone.
    pub(super) fn webhook_url(&self, route: &WebhookRoute) -> Option<Url> {
        let base = self.webhooks.url.as_ref()?;
        let key = self.webhooks.key.as_ref()?;
        Some(route.url(base, key))
    }
}
