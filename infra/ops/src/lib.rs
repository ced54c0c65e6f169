//! Operator commands that talk to Telegram. Each returns the text to print, so tests can
//! check exactly what an operator sees.

mod books;
mod broadcast;
mod credits;
mod spend;

pub use books::{
    Reconciliation, Unmatched, credit_star_payment, reconcile, reconcile_payments,
    star_transactions,
};
pub use broadcast::{Announcement, Tally, broadcast};
pub use credits::{balance, grant, refund_star_payment};
pub use spend::{Billed, ENDPOINTS, FalUsage, spend};

use std::fmt::Write;

use std::time::Duration;

use fluxbot::adapters::aws::SqsQueue;
use fluxbot::domain::{Timestamp, WorkKind};
use fluxbot::ports::{JobQueue, QueueDelay, RecordStore};
use fluxbot::telegram::client::{TelegramClient, WebhookStatus};
use fluxbot::telegram::commands;

/// setWebhook with the secret token and the update kinds the bot uses (optionally dropping
/// pending updates), then setMyCommands: Russian as the default and for `ru`, English for
/// `en`.
pub async fn set_webhook(
    telegram: &TelegramClient,
    url: &url::Url,
    secret: &str,
    drop_pending_updates: bool,
) -> anyhow::Result<String> {
    if url.scheme() != "https" {
        anyhow::bail!("Telegram only delivers to https URLs; got {url}");
    }
    if secret.is_empty()
        || secret.len() > 256
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        anyhow::bail!("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -");
    }
    telegram
        .set_webhook(url, secret, drop_pending_updates)
        .await?;
    let mut out = format!("webhook set: {url}\n");
    if drop_pending_updates {
        out.push_str("pending updates dropped\n");
    }
    for (language_code, list) in commands::registrations() {
        let count = list.len();
        telegram.set_commands(list, language_code).await?;
        let _ = writeln!(
            out,
            "commands registered ({}): {count}",
            language_code.unwrap_or("default")
        );
    }
    Ok(out)
}

/// getWebhookInfo, worded for an operator wondering why updates do not arrive.
pub async fn webhook_info(telegram: &TelegramClient) -> anyhow::Result<String> {
    Ok(describe(&telegram.webhook_info().await?))
}

pub fn describe(info: &WebhookStatus) -> String {
    let mut out = String::new();
    match &info.url {
        Some(url) if !url.is_empty() => {
            let _ = writeln!(out, "webhook: {url}");
        }
        _ => out.push_str(
            "webhook: NOT SET: Telegram is not delivering updates (run set-webhook, or the \
             local runner is polling)\n",
        ),
    }
    let _ = writeln!(out, "pending updates: {}", info.pending_update_count);
    match &info.last_error {
        Some((at, message)) => {
            let _ = writeln!(out, "last delivery error: {at}: {message}");
            match status_code(message) {
                Some(401) => out.push_str(
                    "  hint: the webhook answered 401: TELEGRAM_WEBHOOK_SECRET differs from the \
                     secret given to set-webhook; run set-webhook again\n",
                ),
                Some(code) if code >= 500 => out.push_str(
                    "  hint: the webhook answered with a server error: see the telegram-webhook \
                     function's logs\n",
                ),
                Some(404) => out.push_str(
                    "  hint: the webhook URL does not exist: use the stack's TelegramWebhookUrl \
                     output\n",
                ),
                _ => {}
            }
        }
        None => out.push_str("last delivery error: none\n"),
    }
    if let Some(max) = info.max_connections {
        let _ = writeln!(out, "max connections: {max}");
    }
    if !info.allowed_updates.is_empty() {
        let _ = writeln!(out, "allowed updates: {}", info.allowed_updates.join(", "));
        if !info
            .allowed_updates
            .iter()
            .any(|u| u == "pre_checkout_query")
        {
            // Telegram cancels a Stars payment whose pre-checkout goes unanswered.
            out.push_str("  hint: pre_checkout_query is not delivered, so Stars purchases fail; run set-webhook again\n");
        }
    }
    out
}

/// The first three-digit number in Telegram's error text ("Wrong response from the webhook:
/// 401 Unauthorized").
fn status_code(message: &str) -> Option<u16> {
    message
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 3)
        .and_then(|part| part.parse().ok())
}

/// Moves every message from the dead-letter queue back to the launch queue: each is sent to
/// the launch queue first and only then deleted from the dead-letter queue, so a failure
/// half-way can duplicate a message (harmless: launches are idempotent) but never lose one.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dead_letter_url: &str,
    queue_url: &str,
) -> anyhow::Result<String> {
    let dead = SqsQueue::new(sqs.clone(), dead_letter_url);
    let live = SqsQueue::new(sqs.clone(), queue_url);
    let mut moved = 0u32;
    loop {
        let batch = dead.receive(10, Duration::from_secs(1)).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            live.send(&message.body, QueueDelay::NONE).await?;
            dead.ack(&message.receipt).await?;
            moved += 1;
        }
    }
    Ok(format!(
        "moved {moved} message(s) back to the launch queue\n"
    ))
}

/// Avatars by status, work in flight and its oldest age.
pub async fn stats(store: &dyn RecordStore, now: Timestamp) -> anyhow::Result<String> {
    let mut out = String::from("avatars by status:\n");
    for (status, n) in store.count_avatars_by_status().await? {
        let _ = writeln!(out, "  {:<18} {n}", status.as_str());
    }
    let mut by_kind = std::collections::BTreeMap::<WorkKind, u32>::new();
    let mut oldest = None::<Timestamp>;
    let mut cursor = None;
    loop {
        let page = store.list_in_flight(now, 100, cursor).await?;
        for item in page.items {
            *by_kind.entry(item.work.kind).or_default() += 1;
            oldest = Some(oldest.map_or(item.since, |o: Timestamp| o.min(item.since)));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let count = |kind| by_kind.get(&kind).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "in flight: {} avatar(s) (queued, launching, training or awaiting their notice), {} generation(s)",
        count(WorkKind::Training),
        count(WorkKind::Generation),
    );
    match oldest {
        Some(since) => {
            let _ = writeln!(
                out,
                "oldest in flight: {} min",
                now.since(since).as_secs() / 60
            );
        }
        None => out.push_str("oldest in flight: none\n"),
    }
    let day = fluxbot::domain::SpendDay::of(now);
    let spent = store.spent_on(&day).await?;
    let _ = writeln!(
        out,
        "estimated fal.ai spend committed today ({} UTC): {spent}",
        day.as_str()
    );
    Ok(out)
}

/// A deployed stack's outputs (`TableName`, `LaunchQueueUrl`...), by output key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    stack: String,
    values: std::collections::BTreeMap<String, String>,
}

impl StackOutputs {
    /// Reads the outputs of `stack` (its name or id) with CloudFormation's DescribeStacks.
    pub async fn load(
        cloudformation: &aws_sdk_cloudformation::Client,
        stack: &str,
    ) -> anyhow::Result<Self> {
        let described = cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not read stack {stack:?}: {}",
                    aws_sdk_cloudformation::error::DisplayErrorContext(e)
                )
            })?;
        let Some(found) = described.stacks.unwrap_or_default().into_iter().next() else {
            anyhow::bail!("no stack named {stack:?}");
        };
        let values = found
            .outputs
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| Some((o.output_key?, o.output_value?)))
            .collect();
        Ok(Self {
            stack: stack.to_owned(),
            values,
        })
    }

    /// `explicit` when given (a flag or its variable), else the stack's output `key`.
    pub fn pick(&self, explicit: Option<String>, key: &str, flag: &str) -> anyhow::Result<String> {
        if let Some(value) = explicit {
            return Ok(value);
        }
        if self.stack.is_empty() {
            anyhow::bail!(
                "pass {flag}, or --stack <name> to read it from the stack's {key} output"
            );
        }
        self.values
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("stack {:?} has no output {key}", self.stack))
    }
}
