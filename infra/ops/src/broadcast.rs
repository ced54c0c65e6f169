//! `broadcast`: one announcement to every user who has not blocked the bot, within
//! Telegram's rates, in their language. Each user is noted in the table before their message
//! goes (`UserStore::note_broadcast`), so a run stopped half-way (a crash, Ctrl-C, Telegram
//! asking to slow down) is resumed by running it again: nobody gets it twice. A note is taken
//! back when the message did not go. A user Telegram says blocked the bot is marked inactive
//! and skipped by later announcements. Given a paced client (`TelegramClient::paced`, as the
//! command builds it), each message also waits its turn in the bot's shared send pace, so the
//! announcement and the bot's own messages together stay within Telegram's rates.

use std::time::Duration;

use fluxbot::domain::{Language, Timestamp, UserProfile};
use fluxbot::ports::{RecordStore, StoreError};
use fluxbot::telegram::client::{TelegramClient, TelegramError};
use fluxbot::telegram::screens::Screen;

/// Profiles read at a time.
const PAGE: u32 = 100;
/// How long a note is kept: a rerun within it resumes, later the id may be used again.
const NOTE_DAYS: u64 = 30;

/// The announcement, per language (one text alone goes to everyone).
pub struct Announcement {
    /// Names this announcement: a rerun with the same id resumes it.
    pub id: String,
    pub ru: Option<String>,
    pub en: Option<String>,
}

impl Announcement {
    fn text(&self, language: Language) -> &str {
        let (own, other) = match language {
            Language::Ru => (&self.ru, &self.en),
            Language::En => (&self.en, &self.ru),
        };
        own.as_deref().or(other.as_deref()).unwrap_or_default()
    }
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub users: u32,
    pub sent: u32,
    /// Sent by an earlier run of the same announcement.
    pub sent_before: u32,
    /// Marked inactive earlier (they blocked the bot): not tried.
    pub inactive: u32,
    /// Telegram said they blocked the bot now: marked inactive.
    pub blocked: u32,
    /// Telegram refused their message for good (a deleted account...).
    pub refused: u32,
}

/// Sends `announcement` (or, with `dry_run`, counts who would get it, writing nothing) at
/// most `per_second` messages a second.
pub async fn broadcast(
    store: &dyn RecordStore,
    telegram: &TelegramClient,
    announcement: &Announcement,
    per_second: u32,
    dry_run: bool,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        announcement.ru.is_some() || announcement.en.is_some(),
        "give the announcement's text (--ru and/or --en)"
    );
    anyhow::ensure!(
        !announcement.id.is_empty()
            && announcement.id.len() <= 64
            && announcement
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "the announcement id is 1-64 of A-Z a-z 0-9 - _"
    );
    anyhow::ensure!((1..=30).contains(&per_second), "--per-second is 1-30");
    let gap = Duration::from_secs(1) / per_second;
    let until = Timestamp::now().plus(Duration::from_secs(NOTE_DAYS * 86_400));
    let mut tally = Tally::default();
    let mut cursor = None;
    loop {
        let page = store.list_users(cursor, PAGE).await?;
        for user in page.users {
            tally.users += 1;
            if !user.active {
                tally.inactive += 1;
                continue;
            }
            if dry_run {
                tally.sent += 1;
                continue;
            }
            if !store
                .note_broadcast(user.id, &announcement.id, until)
                .await?
            {
                tally.sent_before += 1;
                continue;
            }
            let screen = Screen::text(announcement.text(user.language));
            let started = tokio::time::Instant::now();
            match telegram.send(user.chat_id, &screen).await {
                Ok(_) => tally.sent += 1,
                Err(TelegramError::Blocked(_)) => {
                    tally.blocked += 1;
                    mark_inactive(store, user).await?;
                }
                Err(e) if e.is_transient() => {
                    store.unnote_broadcast(user.id, &announcement.id).await?;
                    anyhow::bail!(
                        "{}stopped: Telegram did not take a message ({e}); run the same command \
                         again to go on where it stopped",
                        report(&tally, dry_run)
                    );
                }
                Err(e) => {
                    tracing::info!(user = %user.id, error = %e, "announcement refused");
                    tally.refused += 1;
                }
            }
            tokio::time::sleep_until(started + gap).await;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(report(&tally, dry_run)),
        }
    }
}

/// Marks a user who blocked the bot, so the next announcement skips them. A profile that
/// changed meanwhile (they wrote to the bot: reachable again) is left as it is.
async fn mark_inactive(store: &dyn RecordStore, mut user: UserProfile) -> anyhow::Result<()> {
    user.active = false;
    match store.save_user(&user).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn report(t: &Tally, dry_run: bool) -> String {
    if dry_run {
        return format!(
            "dry run: {} user(s); {} would get it; {} blocked the bot before\n",
            t.users, t.sent, t.inactive
        );
    }
    format!(
        "{} user(s): {} sent now, {} sent by an earlier run, {} blocked the bot before, {} \
         blocked it now, {} refused\n",
        t.users, t.sent, t.sent_before, t.inactive, t.blocked, t.refused
    )
}
