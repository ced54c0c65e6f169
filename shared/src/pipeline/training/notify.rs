//! Telling the user about a training: started, progress, and the outcome; and deleting what a
//! finished training leaves behind.

use super::super::engine::{Progress, Told};
use super::super::notice::told;
use super::super::{PROGRESS_EVERY, Pipeline, PipelineResult};
use crate::domain::{Avatar, AvatarStatus, Credits, Timestamp, blob_keys};
use crate::fal::LogEntry;
use crate::ports::StoreError;
use crate::telegram::screens::{self, Keyboard, Screen};
use crate::telegram::texts::{TrainingProgress, texts};

impl Pipeline {
    /// Edits the avatar's status message (the one that said "queued"), if it has one.
    async fn show_status(&self, avatar: &Avatar, text: String) {
        let Some(at) = avatar.status_message else {
            return;
        };
        let screen = Screen::new(text, Keyboard::default());
        if let Err(e) = self.telegram.edit(at, &screen).await {
            tracing::info!(avatar = %avatar.id, error = %e, "status message not updated");
        }
    }

    pub(super) async fn announce_start(&self, avatar: &Avatar) -> PipelineResult<()> {
        let (_, language) = self.audience(avatar.owner).await?;
        let text = texts(language).training_started(
            avatar.name.as_str(),
            avatar.preset.expected_minutes(avatar.kind),
        );
        self.show_status(avatar, text).await;
        Ok(())
    }

    /// Edits the status message with progress, at most every `PROGRESS_EVERY`; records when.
    pub(super) async fn show_progress(
        &self,
        avatar: &Avatar,
        progress: Progress,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        if avatar.status_message.is_none()
            || avatar
                .progress_shown_at
                .is_some_and(|at| now.since(at) < PROGRESS_EVERY)
        {
            return Ok(false);
        }
        let elapsed = || TrainingProgress::Elapsed {
            minutes: avatar
                .state
                .work_started_at()
                .map_or(0, |since| now.since(since).as_secs() / 60),
            expected: avatar.preset.expected_minutes(avatar.kind),
        };
        let progress = match progress {
            Progress::InQueue { position } => TrainingProgress::InQueue { position },
            Progress::Running { logs } => steps_from_logs(&logs).unwrap_or_else(elapsed),
            Progress::Elapsed => elapsed(),
        };
        let (_, language) = self.audience(avatar.owner).await?;
        self.show_status(
            avatar,
            texts(language).training_progress(avatar.name.as_str(), progress),
        )
        .await;
        let mut next = avatar.clone();
        next.progress_shown_at = Some(now);
        match self.store.update_avatar(&next).await {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Tells the user how the training ended: a new message (edits do not notify), with what
    /// a failure gave back.
    pub(super) async fn tell_training_outcome(
        &self,
        avatar: &Avatar,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        let (chat, language) = self.audience(avatar.owner).await?;
        let Some(screen) = screens::training_outcome(texts(language), avatar, refunded) else {
            return Ok(Told::Settled);
        };
        let sent = self.telegram.send(chat, &screen).await.map(|_| ());
        Ok(told(sent, &format!("avatar {}", avatar.id)))
    }

    /// What a finished training leaves behind: its archive always; its photos after a
    /// success (unless `DELETE_PHOTOS_AFTER_TRAINING=false`), files first, then the records
    /// that name them (with Telegram's file ids).
    pub(super) async fn delete_training_files(&self, avatar: &Avatar) -> PipelineResult<()> {
        let [photos, archives, _generations, _models] =
            blob_keys::avatar_prefixes(avatar.owner, avatar.id);
        let photos_go = avatar.status() == AvatarStatus::Completed
            && self.training.delete_photos_after_training;
        let prefixes = if photos_go {
            vec![archives, photos]
        } else {
            vec![archives]
        };
        self.blobs.delete_prefixes(&prefixes).await?;
        if photos_go {
            self.store.forget_photos(avatar.owner, avatar.id).await?;
        }
        Ok(())
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
