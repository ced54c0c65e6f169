//! The status sweep: reads only the in-flight index (items older than the check interval,
//! oldest first, a page at a time) and puts each item right:
//!
//! - `queued`, or `submitting` with a lapsed lease: the launch is sent again (duplicates are
//!   harmless: the claim is conditional);
//! - `training`: fal.ai is asked. Completed: the result goes through the completion path.
//!   Running: progress is shown (step x/y from the logs, else time so far), at most once a
//!   minute. Past `FAL_TRAINING_TIMEOUT`: cancelled at fal.ai, failed, the user told;
//! - an outcome the user has not been told of (the sender crashed or Telegram failed): told;
//! - generations likewise: pending or lapsed claims relaunched, running ones asked about
//!   (results fetched and delivered, past `FAL_GENERATION_TIMEOUT` cancelled and failed),
//!   undelivered results sent.
//!
//! Work is bounded by a deadline under the function's timeout; what is left waits for the
//! next run.

use std::time::Instant;

use super::complete::Outcome;
use super::{FalBackend, Pipeline, PipelineResult};
use crate::domain::{Avatar, AvatarState, FailureReason, Timestamp};
use crate::fal::{FalError, LogEntry, QueueStatus};
use crate::jobs::Job;
use crate::ports::{FalTarget, InFlightCursor, QueueDelay};
use crate::telegram::texts::TrainingProgress;

const PAGE: u32 = 25;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: u32,
    pub relaunched: u32,
    pub completed: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub progress_shown: u32,
    pub notices_sent: u32,
    pub errors: u32,
    /// The deadline came before the index was done.
    pub truncated: bool,
}

impl Pipeline {
    pub async fn sweep(&self, now: Timestamp, deadline: Instant) -> PipelineResult<SweepReport> {
        let mut report = SweepReport::default();
        let older_than = now.minus(self.fal_settings.status_check_interval);
        let mut cursor: Option<InFlightCursor> = None;
        loop {
            let page = self.store.list_in_flight(older_than, PAGE, cursor).await?;
            for item in page.items {
                if Instant::now() >= deadline {
                    report.truncated = true;
                    return Ok(report);
                }
                let (owner, avatar_id) = match item.target {
                    FalTarget::Training { owner, avatar_id } => (owner, avatar_id),
                    FalTarget::Generation {
                        avatar_id,
                        generation_id,
                        ..
                    } => {
                        let Some(generation) =
                            self.store.get_generation(avatar_id, generation_id).await?
                        else {
                            continue;
                        };
                        report.checked += 1;
                        if let Err(e) = self.sweep_generation(&generation, now, &mut report).await {
                            report.errors += 1;
                            tracing::warn!(generation = %generation_id, error = %e, "sweep could not settle this generation; next run retries");
                        }
                        continue;
                    }
                };
                let Some(avatar) = self.store.get_avatar(owner, avatar_id).await? else {
                    continue;
                };
                report.checked += 1;
                if let Err(e) = self.sweep_avatar(&avatar, now, &mut report).await {
                    report.errors += 1;
                    tracing::warn!(avatar = %avatar.id, error = %e, "sweep could not settle this avatar; next run retries");
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let recovered = report.completed + report.failed + report.relaunched + report.notices_sent;
        if recovered > 0 {
            crate::metrics::counts("SweepRecoveries", recovered, &[]);
        }
        tracing::info!(?report, "sweep finished");
        Ok(report)
    }

    async fn sweep_avatar(
        &self,
        avatar: &Avatar,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        match &avatar.state {
            AvatarState::Queued { .. } => self.relaunch(avatar, report).await,
            AvatarState::Submitting { lease_until, .. } if *lease_until <= now => {
                self.relaunch(avatar, report).await
            }
            AvatarState::Submitting { .. } => Ok(()),
            AvatarState::Training {
                request,
                submitted_at,
                attempt,
            } => {
                if now.since(*submitted_at) > self.fal_settings.training_timeout {
                    if let FalBackend::Live(client) = &self.fal
                        && let Err(e) = client.cancel(&request.endpoint, &request.request_id).await
                    {
                        tracing::warn!(avatar = %avatar.id, error = %e, "cancel at fal.ai failed; failing the avatar anyway");
                    }
                    let done = self
                        .complete(
                            avatar.owner,
                            avatar.id,
                            request,
                            Some(*attempt),
                            Outcome::Failed(FailureReason::TimedOut),
                            now,
                        )
                        .await?;
                    tracing::warn!(avatar = %avatar.id, request = %request.request_id, ?done, "training timed out");
                    report.timed_out += 1;
                    return Ok(());
                }
                let FalBackend::Live(client) = &self.fal else {
                    // Test mode: the result comes by the queue; show time so far meanwhile.
                    let progress = self.elapsed(avatar, *submitted_at, now);
                    if self.show_progress(avatar, progress, now).await? {
                        report.progress_shown += 1;
                    }
                    return Ok(());
                };
                let status = match client
                    .status(&request.endpoint, &request.request_id, true)
                    .await
                {
                    Ok(status) => status,
                    Err(FalError::NotFound) => {
                        let done = self
                            .complete(
                                avatar.owner,
                                avatar.id,
                                request,
                                Some(*attempt),
                                Outcome::Failed(FailureReason::ProviderError {
                                    detail: "fal.ai no longer knows this training".into(),
                                }),
                                now,
                            )
                            .await?;
                        tracing::warn!(avatar = %avatar.id, ?done, "fal.ai lost the request");
                        report.failed += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                };
                match status {
                    QueueStatus::Completed { error: None, .. } => {
                        let raw = client
                            .result(&request.endpoint, &request.request_id)
                            .await?;
                        let outcome = Outcome::from_result(&request.endpoint, &raw);
                        let failed = matches!(outcome, Outcome::Failed(_));
                        self.complete(
                            avatar.owner,
                            avatar.id,
                            request,
                            Some(*attempt),
                            outcome,
                            now,
                        )
                        .await?;
                        tracing::info!(avatar = %avatar.id, "sweep recovered a finished training");
                        if failed {
                            report.failed += 1;
                        } else {
                            report.completed += 1;
                        }
                    }
                    QueueStatus::Completed {
                        error: Some(error), ..
                    } => {
                        self.complete(
                            avatar.owner,
                            avatar.id,
                            request,
                            Some(*attempt),
                            Outcome::Failed(FailureReason::ProviderError { detail: error }),
                            now,
                        )
                        .await?;
                        report.failed += 1;
                    }
                    QueueStatus::InQueue { position } => {
                        if self
                            .show_progress(avatar, TrainingProgress::InQueue { position }, now)
                            .await?
                        {
                            report.progress_shown += 1;
                        }
                    }
                    QueueStatus::InProgress { logs } => {
                        let progress = steps_from_logs(&logs)
                            .unwrap_or_else(|| self.elapsed(avatar, *submitted_at, now));
                        if self.show_progress(avatar, progress, now).await? {
                            report.progress_shown += 1;
                        }
                    }
                }
                Ok(())
            }
            AvatarState::Completed { .. } | AvatarState::Failed { .. } => {
                if self.retry_notice(avatar, now).await? {
                    report.notices_sent += 1;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn relaunch(&self, avatar: &Avatar, report: &mut SweepReport) -> PipelineResult<()> {
        let job = Job::LaunchTraining {
            owner: avatar.owner,
            avatar_id: avatar.id,
        };
        self.queue.send(&job.to_body(), QueueDelay::NONE).await?;
        tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), "launch sent again");
        report.relaunched += 1;
        Ok(())
    }

    fn elapsed(&self, avatar: &Avatar, since: Timestamp, now: Timestamp) -> TrainingProgress {
        TrainingProgress::Elapsed {
            minutes: now.since(since).as_secs() / 60,
            expected: avatar.preset.expected_minutes(avatar.kind),
        }
    }
}

/// The latest "x/y" step count in the trainer's logs (e.g. "Training step 120/1000").
fn steps_from_logs(logs: &[LogEntry]) -> Option<TrainingProgress> {
    logs.iter().rev().find_map(|entry| {
        entry.message.split_whitespace().find_map(|word| {
            let word = word.trim_matches(|c: char| !c.is_ascii_digit() && c != '/');
            let (done, total) = word.split_once('/')?;
            let (done, total): (u32, u32) = (done.parse().ok()?, total.parse().ok()?);
            (total > 0 && done <= total).then_some(TrainingProgress::Steps { done, total })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(message: &str) -> LogEntry {
        LogEntry {
            message: message.into(),
            level: Some("INFO".into()),
            timestamp: None,
        }
    }

    #[test]
    fn steps_are_read_from_the_latest_log_line_that_has_them() {
        let logs = vec![
            log("Preparing dataset"),
            log("Training step 120/1000, loss 0.12"),
            log(" 35%|███▌      | 350/1000 [02:01<03:45,  2.88it/s]"),
            log("Saving checkpoint"),
        ];
        assert_eq!(
            steps_from_logs(&logs),
            Some(TrainingProgress::Steps {
                done: 350,
                total: 1000
            })
        );
        assert_eq!(
            steps_from_logs(&[log("no numbers here"), log("3/0 bad")]),
            None
        );
        assert_eq!(
            steps_from_logs(&[log("date 2026/11")]),
            None,
            "11 < 2026: not a step count"
        );
    }
}
