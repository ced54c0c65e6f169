//! The sweep's care of one in-flight avatar:
//!
//! - `queued`, or `submitting` with a lapsed lease: the launch is sent again (duplicates are
//!   harmless: the claim is conditional); one that used up its claims, or waited past
//!   `FAL_LAUNCH_TIMEOUT`, fails and the user is told;
//! - `sending` (a submit of unknown outcome): left alone, never resubmitted; past the
//!   training timeout plus fal's webhook retry window it fails as unconfirmed;
//! - `training`: fal.ai is asked. Completed: the result goes through the completion path.
//!   Running: progress is shown (step x/y from the logs, else time so far), at most once a
//!   minute. Past `FAL_TRAINING_TIMEOUT`: cancelled at fal.ai, failed, the user told;
//! - an outcome the user has not been told of (the sender crashed or Telegram failed): told.

use super::super::sweep::SweepReport;
use super::super::{FalBackend, LAUNCH_LEASE, Pipeline, PipelineResult};
use super::TrainingOutcome;
use crate::domain::{
    ABANDONED_AFTER, AttemptId, Avatar, AvatarEvent, AvatarState, FailureReason, Timestamp,
    blob_keys,
};
use crate::fal::{FalError, LogEntry, QueueStatus};
use crate::jobs::Job;
use crate::ports::QueueDelay;
use crate::telegram::screens::{Keyboard, Screen};
use crate::telegram::texts::{TrainingProgress, texts};

impl Pipeline {
    pub(in crate::pipeline) async fn sweep_avatar(
        &self,
        avatar: &Avatar,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        let settings = &self.fal_settings;
        match &avatar.state {
            AvatarState::Queued { .. } | AvatarState::Submitting { .. }
                if avatar.state.launch_given_up(now) =>
            {
                let detail = format!(
                    "{} attempts to start it failed",
                    crate::domain::MAX_LAUNCH_CLAIMS
                );
                self.fail_training(avatar, FailureReason::NotStarted { detail }, now)
                    .await?;
                report.failed += 1;
                Ok(())
            }
            AvatarState::Queued { queued_at, .. }
                if now.since(*queued_at) > settings.launch_timeout =>
            {
                let detail = "it could not be started in time".to_owned();
                self.fail_training(avatar, FailureReason::NotStarted { detail }, now)
                    .await?;
                report.failed += 1;
                Ok(())
            }
            AvatarState::Queued { .. } | AvatarState::Submitting { .. } => {
                // Sent again only if a worker could claim it now (not while a lease runs).
                let claim = AvatarEvent::Claim {
                    attempt: AttemptId::new(),
                    lease: LAUNCH_LEASE,
                };
                if avatar.apply(claim, now).is_ok() {
                    self.relaunch(avatar, report).await?;
                }
                Ok(())
            }
            AvatarState::Sending { sent_at, .. } => {
                let wait = settings.training_timeout + settings.webhook_retry_window;
                if now.since(*sent_at) > wait {
                    tracing::error!(avatar = %avatar.id, "a submit of unknown outcome was never confirmed; failing it (never resubmitted)");
                    self.fail_training(avatar, FailureReason::Unconfirmed, now)
                        .await?;
                    report.failed += 1;
                }
                Ok(())
            }
            AvatarState::Training {
                request,
                submitted_at,
                attempt,
            } => {
                let attempt = Some(*attempt);
                if now.since(*submitted_at) > settings.training_timeout {
                    if let FalBackend::Live(client) = &self.fal
                        && let Err(e) = client.cancel(&request.endpoint, &request.request_id).await
                    {
                        tracing::warn!(avatar = %avatar.id, error = %e, "cancel at fal.ai failed; failing the avatar anyway");
                    }
                    let timed_out = TrainingOutcome::Failed(FailureReason::TimedOut);
                    let done = self
                        .complete_training(
                            avatar.owner,
                            avatar.id,
                            request,
                            attempt,
                            timed_out,
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
                        let lost = TrainingOutcome::Failed(FailureReason::ProviderError {
                            detail: "fal.ai no longer knows this training".into(),
                        });
                        let done = self
                            .complete_training(avatar.owner, avatar.id, request, attempt, lost, now)
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
                        let outcome = TrainingOutcome::from_result(&request.endpoint, &raw);
                        let failed = matches!(outcome, TrainingOutcome::Failed(_));
                        self.complete_training(
                            avatar.owner,
                            avatar.id,
                            request,
                            attempt,
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
                        let failed =
                            TrainingOutcome::Failed(FailureReason::ProviderError { detail: error });
                        self.complete_training(
                            avatar.owner,
                            avatar.id,
                            request,
                            attempt,
                            failed,
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
            AvatarState::Draft | AvatarState::CollectingPhotos | AvatarState::Ready
                if now.since(avatar.updated_at) >= ABANDONED_AFTER =>
            {
                self.remove_abandoned(avatar).await?;
                report.abandoned_removed += 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Removes an avatar the user never sent to training: its photos, then its records; then
    /// says so. Nothing of it was ever given to fal.ai.
    async fn remove_abandoned(&self, avatar: &Avatar) -> PipelineResult<()> {
        self.blobs
            .delete_prefixes(&blob_keys::avatar_prefixes(avatar.owner, avatar.id))
            .await?;
        self.store.delete_avatar(avatar.owner, avatar.id).await?;
        tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), "abandoned avatar removed with its photos");
        let (chat, language) = self.audience(avatar.owner).await?;
        let text = texts(language)
            .abandoned_avatar_removed(avatar.name.as_str(), ABANDONED_AFTER.as_secs() / 86_400);
        let screen = Screen::new(text, Keyboard::default());
        if let Err(e) = self.telegram.send(chat, &screen).await {
            tracing::info!(avatar = %avatar.id, error = %e, "removal not told");
        }
        Ok(())
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
