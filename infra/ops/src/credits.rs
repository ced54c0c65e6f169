//! The operator's credit commands: a user's balance and ledger, a grant, and the refund of a
//! Stars payment (credits taken back first, so a refund can never leave them spendable).

use std::fmt::Write;

use fluxbot::domain::{Credits, EntryKind, LedgerEntry, Timestamp, UserId, Work, WorkKind};
use fluxbot::ports::{Applied, RecordStore};
use fluxbot::telegram::client::{TelegramClient, TelegramError};

/// How many entries `balance` lists.
const LISTED: usize = 20;

fn describe(kind: &EntryKind) -> String {
    match kind {
        EntryKind::Purchase { charge_id, stars } => format!("purchase {charge_id} ({stars} Stars)"),
        EntryKind::Debit { work } => format!("debit for {}", work_name(work)),
        EntryKind::Refund { work } => format!("refund of {}", work_name(work)),
        EntryKind::Grant { request_id } => format!("grant {request_id}"),
        EntryKind::PaymentRefund { charge_id } => format!("Stars refunded for {charge_id}"),
        EntryKind::PaymentRefundReversed { charge_id } => {
            format!("Stars refund of {charge_id} refused by Telegram; credits given back")
        }
    }
}

fn work_name(work: &Work) -> String {
    match work.kind {
        WorkKind::Training => format!("training of avatar {}", work.id),
        WorkKind::Generation => format!("generation {}", work.id),
        WorkKind::Upscale => format!("upscale {}", work.id),
        WorkKind::Restyle => format!("restyle {}", work.id),
        WorkKind::PhotoPack => format!("photo pack picture {}", work.id),
        WorkKind::FirstLook => format!("first look picture {}", work.id),
    }
}

/// The user's balance and newest entries.
pub async fn balance(store: &dyn RecordStore, user: UserId) -> anyhow::Result<String> {
    let mut out = format!("user {user}: {} credit(s)\n", store.balance(user).await?);
    let entries = store.ledger(user, LISTED).await?;
    if entries.is_empty() {
        out.push_str("no ledger entries\n");
    }
    for e in entries {
        let at = chrono::DateTime::from_timestamp_millis(e.at.0)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "  {at}  {:+}  {}", e.delta, describe(&e.kind));
    }
    Ok(out)
}

/// Gives `credits` to `user`, once per `request_id` (run it again after a timeout: the same
/// id applies once).
pub async fn grant(
    store: &dyn RecordStore,
    user: UserId,
    credits: u64,
    request_id: &str,
) -> anyhow::Result<String> {
    anyhow::ensure!(credits > 0, "grant at least 1 credit");
    anyhow::ensure!(
        !request_id.is_empty() && request_id.len() <= 100,
        "the request id must be 1-100 characters"
    );
    let entry = LedgerEntry::grant(user, request_id, Credits(credits), Timestamp::now());
    Ok(match store.apply_entry(&entry).await? {
        Ok(Applied::New(balance)) => {
            format!("granted {credits} credit(s) to user {user}; balance {balance}\n")
        }
        Ok(Applied::Repeat(balance)) => {
            format!("request {request_id} was applied before; nothing changed; balance {balance}\n")
        }
        Err(short) => anyhow::bail!("grant refused: {short:?}"),
    })
}

/// Refunds a Stars payment: its credits are taken back first (refused if the user spent
/// them), then Telegram returns the Stars. A transient failure leaves it for another run,
/// which finishes it; a refusal for good gives the credits back (keyed by the charge, once),
/// so the user never ends with neither.
pub async fn refund_star_payment(
    store: &dyn RecordStore,
    telegram: &TelegramClient,
    user: UserId,
    charge_id: &str,
) -> anyhow::Result<String> {
    let Some(purchase) = store
        .ledger_entry(user, &LedgerEntry::purchase_key(charge_id))
        .await?
    else {
        anyhow::bail!("user {user} has no purchase with charge id {charge_id}");
    };
    let back =
        LedgerEntry::payment_refund_of(&purchase, Timestamp::now()).expect("a purchase entry");
    let mut out = String::new();
    if store
        .ledger_entry(user, &LedgerEntry::reversal_key(charge_id))
        .await?
        .is_some()
    {
        anyhow::bail!(
            "Telegram refused to refund {charge_id} before and its credits were given back; \
             nothing was changed"
        );
    }
    match store.apply_entry(&back).await? {
        Ok(Applied::New(balance)) => {
            let _ = writeln!(
                out,
                "took back {} credit(s); balance {balance}",
                -back.delta
            );
        }
        Ok(Applied::Repeat(_)) => out.push_str("credits were taken back before\n"),
        Err(short) => anyhow::bail!(
            "refused: the payment's {} credit(s) are partly spent (balance {}); grant or wait \
             for refunds first",
            short.price,
            short.balance
        ),
    }
    match telegram.refund_star_payment(user, charge_id).await {
        Ok(()) => out.push_str("Telegram refunded the Stars\n"),
        Err(TelegramError::Refused(why)) if why.contains("CHARGE_ALREADY_REFUNDED") => {
            out.push_str("Telegram had refunded the Stars already\n")
        }
        Err(e) if e.is_transient() => anyhow::bail!(
            "{out}the credits are taken back but Telegram did not refund ({e}); run the same \
             command again"
        ),
        Err(e) => {
            // Refused for good: the user keeps the Stars spent, so gets the credits back.
            let reversal =
                LedgerEntry::reversal_of(&back, Timestamp::now()).expect("a payment refund entry");
            let balance = store
                .apply_entry(&reversal)
                .await?
                .map_err(|short| anyhow::anyhow!("reversal refused: {short:?}"))?
                .balance();
            anyhow::bail!(
                "{out}Telegram refused to refund the Stars ({e}); the credits were given back \
                 (balance {balance})"
            );
        }
    }
    Ok(out)
}
