//! Committing to paid work from a conversation turn, the same for every kind: the price and
//! estimate from the one pricing function, the causes that make the commit idempotent (this
//! Telegram update, and the tapped button for [`DOUBLE_TAP`]), what a refusal means, and the
//! hand-over to the launch worker. The record, the debit, the day's spend, the user's count
//! and the causes are one transaction in the store.

use std::time::Duration;

use super::{BotResult, Turn};
use crate::domain::policy;
use crate::domain::{LedgerEntry, NotEnoughCredits, Quote, Usd, WorkRef};
use crate::jobs::Job;
use crate::ports::{Cause, CommitCost, CommitRefused, QueueDelay};

/// A second tap on the same button within this long asks for the same work.
pub const DOUBLE_TAP: Duration = Duration::from_secs(10);

/// Why a commit was refused, in the terms every kind's refusal is worded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refused {
    /// The daily spend cap is reached; it resets in this many minutes.
    DailyBudget {
        resets_in_minutes: u64,
    },
    NotEnoughCredits(NotEnoughCredits),
    /// This update or tap committed that work already: nothing new is paid for.
    Duplicate(WorkRef),
    /// What the work belongs to is gone, or being deleted.
    Gone,
}

impl Turn<'_> {
    /// What may commit paid work at most once: this update (Telegram delivers it again
    /// until it gets a 200) and the button tapped (a double tap). `scope` names a second
    /// piece of work the same update commits (a first look beside a training), with causes
    /// of its own.
    pub(super) fn causes(&self, scope: Option<&str>) -> Vec<Cause> {
        let owner = self.user.id;
        let update = self.update_id.map(|id| Cause::update(owner, id, self.now));
        let tap = self
            .tap
            .as_ref()
            .map(|(message, data)| Cause::tap(owner, *message, data, self.now, DOUBLE_TAP));
        update
            .into_iter()
            .chain(tap)
            .map(|mut cause| {
                if let Some(scope) = scope {
                    cause.key = format!("{}#{scope}", cause.key);
                }
                cause
            })
            .collect()
    }

    /// The work this update or tap committed already (in `scope`), if it did.
    pub(super) async fn committed_already(
        &self,
        scope: Option<&str>,
    ) -> BotResult<Option<WorkRef>> {
        for cause in self.causes(scope) {
            if let Some(work) = self.bot.store.committed_by(&cause).await? {
                return Ok(Some(work));
            }
        }
        Ok(None)
    }

    /// What committing to `works` carries (one record, or a photo pack's pictures, each
    /// quoted `quote`): their estimated fal.ai cost against the day's cap, in a paying bot
    /// each one's price taken from the user's credits, and their causes (in `scope`).
    pub(super) fn cost_of(
        &self,
        works: &[WorkRef],
        quote: Quote,
        scope: Option<&str>,
    ) -> CommitCost {
        let count = works.len() as u64;
        CommitCost {
            spend: self
                .bot
                .limits
                .money
                .spend_cap
                .charge(Usd(quote.estimate.micros() * count), self.now),
            debits: match quote.price.filter(|p| p.0 > 0) {
                Some(price) => works
                    .iter()
                    .map(|w| LedgerEntry::debit(self.user.id, w.paid(), price, self.now))
                    .collect(),
                None => Vec::new(),
            },
            causes: self.causes(scope),
        }
    }

    /// What a commit's refusal means, logged and counted.
    pub(super) fn refused(&self, why: CommitRefused, work: &WorkRef) -> Refused {
        match why {
            CommitRefused::OverBudget { spent } => {
                tracing::warn!(%work, %spent, "daily spend cap reached; refused");
                crate::metrics::count("SpendCapReached", &[("Kind", work.kind.as_str())]);
                Refused::DailyBudget {
                    resets_in_minutes: policy::budget_resets_in_minutes(self.now),
                }
            }
            CommitRefused::NotEnoughCredits(short) => {
                tracing::info!(%work, balance = %short.balance, price = %short.price, "not enough credits; refused");
                Refused::NotEnoughCredits(short)
            }
            CommitRefused::Duplicate(earlier) => {
                tracing::info!(%work, %earlier, "committed already by this update or tap");
                Refused::Duplicate(earlier)
            }
            CommitRefused::Gone => Refused::Gone,
        }
    }

    /// Sends committed work to the launch worker. A failed send is logged, not raised: the
    /// work is committed and the sweep sends its launch again; failing the update would only
    /// make Telegram's retry find it committed.
    pub(super) async fn hand_over(&self, work: WorkRef) {
        let job = Job::Launch(work);
        match self
            .bot
            .launches
            .send(&job.to_body(), QueueDelay::NONE)
            .await
        {
            Ok(message_id) => tracing::info!(%work, %message_id, "launch enqueued"),
            Err(e) => {
                tracing::warn!(%work, error = %e, "launch not sent; the sweep will send it")
            }
        }
    }
}
