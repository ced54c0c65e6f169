//! The books checked against Telegram: every Stars payment Telegram took is credited exactly
//! once in the ledger, and every refund is recorded on both sides. What does not match is
//! listed with the command that fixes it; nothing is fixed here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use fluxbot::domain::{EntryKind, LedgerEntry, Pack, Timestamp, UserId};
use fluxbot::ports::{Applied, RecordStore};
use fluxbot::telegram::client::{StarFlow, StarTransfer, TelegramClient};

/// Transactions asked of Telegram at a time (its most).
const PAGE: u8 = 100;

/// Every Star transaction of the bot dated at or after `since`, page by page.
pub async fn star_transactions(
    telegram: &TelegramClient,
    since: Timestamp,
) -> anyhow::Result<(Vec<StarTransfer>, u32)> {
    let (mut all, mut offset, mut calls) = (Vec::new(), 0u32, 0u32);
    loop {
        let page = telegram.star_transactions(offset, PAGE).await?;
        calls += 1;
        let n = page.len();
        all.extend(page.into_iter().filter(|t| t.date >= since));
        if n < usize::from(PAGE) {
            return Ok((all, calls));
        }
        offset += u32::from(PAGE);
    }
}

/// What the two sides say about one charge.
#[derive(Debug, Default)]
struct Charge {
    /// Telegram: who paid, how many Stars, the invoice's payload.
    paid: Option<(UserId, u32, Option<String>)>,
    refunded_at_telegram: bool,
    /// The ledger: each user credited for it, with the Stars recorded.
    credited: Vec<(UserId, u32)>,
    /// The ledger: the credits were taken back for a refund, and not given back after
    /// Telegram refused it.
    refunded_in_books: Option<UserId>,
}

/// One line an operator must look at, and what to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub what: String,
    pub fix: String,
}

/// The two sides compared.
#[derive(Debug, Default)]
pub struct Reconciliation {
    pub payments: usize,
    pub stars: u64,
    pub refunds: usize,
    pub purchases: usize,
    pub unmatched: Vec<Unmatched>,
}

/// Compares Telegram's transactions with the ledger's payment entries.
pub fn reconcile(transactions: &[StarTransfer], entries: &[LedgerEntry]) -> Reconciliation {
    let mut charges: BTreeMap<&str, Charge> = BTreeMap::new();
    let mut report = Reconciliation::default();
    for t in transactions {
        let charge = charges.entry(&t.id).or_default();
        match &t.flow {
            StarFlow::PaidBy { user, payload } => {
                report.payments += 1;
                report.stars += u64::from(t.stars);
                charge.paid = Some((*user, t.stars, payload.clone()));
            }
            StarFlow::RefundedTo { .. } => {
                report.refunds += 1;
                charge.refunded_at_telegram = true;
            }
            StarFlow::Other => {}
        }
    }
    let reversed: BTreeSet<(UserId, &str)> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::PaymentRefundReversed { charge_id } => Some((e.owner, charge_id.as_str())),
            _ => None,
        })
        .collect();
    for e in entries {
        match &e.kind {
            EntryKind::Purchase { charge_id, stars } => {
                report.purchases += 1;
                let charge = charges.entry(charge_id).or_default();
                charge.credited.push((e.owner, *stars));
            }
            EntryKind::PaymentRefund { charge_id }
                if !reversed.contains(&(e.owner, charge_id.as_str())) =>
            {
                charges.entry(charge_id).or_default().refunded_in_books = Some(e.owner);
            }
            _ => {}
        }
    }
    for (id, c) in &charges {
        report.unmatched.extend(unmatched(id, c));
    }
    report
}

fn unmatched(id: &str, c: &Charge) -> Vec<Unmatched> {
    let mut found = Vec::new();
    let mut say = |what: String, fix: String| found.push(Unmatched { what, fix });
    match (&c.paid, c.credited.as_slice()) {
        (Some((user, stars, _)), []) => say(
            format!("payment {id}: user {user} paid {stars} Stars; the ledger never credited it"),
            format!("fluxbot-ops credit-star-payment {user} {id}"),
        ),
        (Some((user, stars, _)), [(owner, recorded)]) => {
            if owner != user {
                say(
                    format!("payment {id}: paid by user {user}, credited to user {owner}"),
                    format!("fluxbot-ops balance {owner}; fluxbot-ops balance {user}"),
                );
            }
            if recorded != stars {
                say(
                    format!(
                        "payment {id}: Telegram took {stars} Stars, the ledger records {recorded}"
                    ),
                    format!("fluxbot-ops refund-star-payment {owner} {id}"),
                );
            }
        }
        (_, many @ [_, _, ..]) => say(
            format!(
                "payment {id}: credited {} times (users {})",
                many.len(),
                many.iter()
                    .map(|(u, _)| u.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("fluxbot-ops balance {}", many[0].0),
        ),
        (None, [(owner, stars)]) => say(
            format!(
                "purchase {id}: the ledger credited user {owner} for {stars} Stars Telegram does \
                 not list (a payment in Telegram's test environment, or one before --since)"
            ),
            format!("fluxbot-ops balance {owner}"),
        ),
        (None, []) => {}
    }
    let payer = c
        .paid
        .as_ref()
        .map(|p| p.0)
        .or(c.credited.first().map(|p| p.0));
    match (c.refunded_at_telegram, c.refunded_in_books, payer) {
        (true, None, Some(user)) => say(
            format!(
                "refund {id}: Telegram gave the Stars back; the ledger still holds the credits"
            ),
            format!("fluxbot-ops refund-star-payment {user} {id}"),
        ),
        (false, Some(user), _) if c.paid.is_some() => say(
            format!("refund {id}: the ledger took the credits back; Telegram has not refunded"),
            format!("fluxbot-ops refund-star-payment {user} {id}"),
        ),
        _ => {}
    }
    found
}

/// `reconcile-payments`: the report, and whether the books are clean.
pub async fn reconcile_payments(
    store: &dyn RecordStore,
    telegram: &TelegramClient,
    since: Timestamp,
) -> anyhow::Result<(String, bool)> {
    let (transactions, calls) = star_transactions(telegram, since).await?;
    let entries = store.payment_entries(since).await?;
    let r = reconcile(&transactions, &entries);
    let mut out = format!(
        "Telegram: {} payment(s), {} Stars, {} refund(s) ({calls} call(s))\n\
         ledger: {} purchase(s)\n",
        r.payments, r.stars, r.refunds, r.purchases
    );
    if r.unmatched.is_empty() {
        out.push_str("clean: every payment credited exactly once, every refund recorded\n");
        return Ok((out, true));
    }
    let _ = writeln!(out, "{} unmatched:", r.unmatched.len());
    for u in &r.unmatched {
        let _ = writeln!(out, "  - {}\n    fix: {}", u.what, u.fix);
    }
    Ok((out, false))
}

/// `credit-star-payment`: credits a payment Telegram lists but the bot never recorded (its
/// update was lost), keyed by the charge as the bot keys it, so it applies once whoever
/// applies it first.
pub async fn credit_star_payment(
    store: &dyn RecordStore,
    telegram: &TelegramClient,
    user: UserId,
    charge_id: &str,
) -> anyhow::Result<String> {
    let (transactions, _) = star_transactions(telegram, Timestamp(0)).await?;
    let Some((stars, payload)) = transactions.iter().find_map(|t| match &t.flow {
        StarFlow::PaidBy {
            user: payer,
            payload,
        } if t.id == charge_id && *payer == user => Some((t.stars, payload.clone())),
        _ => None,
    }) else {
        anyhow::bail!("Telegram lists no payment {charge_id} by user {user}; nothing credited");
    };
    let Some(pack) = payload
        .as_deref()
        .and_then(Pack::from_payload)
        .filter(|p| p.stars == stars)
    else {
        anyhow::bail!(
            "payment {charge_id} ({stars} Stars, payload {payload:?}) is not one of the bot's \
             packs; refund it with fluxbot-ops refund-star-payment after crediting nothing"
        );
    };
    let entry = LedgerEntry::purchase(user, charge_id, stars, pack.credits, Timestamp::now());
    Ok(match store.apply_entry(&entry).await? {
        Ok(Applied::New(balance)) => format!(
            "credited {} credit(s) for {charge_id} to user {user}; balance {balance}\n",
            pack.credits
        ),
        Ok(Applied::Repeat(balance)) => {
            format!("{charge_id} was credited before; nothing changed; balance {balance}\n")
        }
        Err(short) => anyhow::bail!("refused: {short:?}"),
    })
}
