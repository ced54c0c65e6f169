use crate::domain::{Charge, LedgerEntry, NotEnoughCredits, Timestamp, Usd, UserId, WorkRef};

/// What a commit to paid work (an avatar's move to `queued`, a new generation) carries with
/// it, all in the same write: the estimated fal.ai spend added to its day, the user's debit
/// in credits, and what caused it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitCost {
    pub spend: Option<Charge>,
    /// The debit entries (negative deltas), each applied once by its key: one per record
    /// committed (a photo pack's pictures are refunded one by one), none in a free bot.
    pub debits: Vec<LedgerEntry>,
    /// What made the user ask for it: a commit whose cause committed other work already
    /// (Telegram's redelivery of the update, a second tap on the same button) writes nothing
    /// and names that work instead ([`CommitRefused::Duplicate`]).
    pub causes: Vec<Cause>,
}

/// One thing that may cause a commit at most once while it is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub owner: UserId,
    /// `update:<update id>`, `tap:<message id>:<button>`.
    pub key: String,
    /// When it happened (the commit's time).
    pub at: Timestamp,
    /// Until when it is remembered (after that the same key may commit again).
    pub until: Timestamp,
}

impl Cause {
    /// A Telegram update: remembered as long as Telegram may deliver it again.
    pub fn update(owner: UserId, update_id: i64, now: Timestamp) -> Self {
        Self {
            owner,
            key: format!("update:{update_id}"),
            at: now,
            until: now.plus(std::time::Duration::from_secs(24 * 3600)),
        }
    }

    /// A tap on a button (`data`) of a message: a second tap within `window` is the same ask.
    pub fn tap(
        owner: UserId,
        message_id: i32,
        data: &str,
        now: Timestamp,
        window: std::time::Duration,
    ) -> Self {
        Self {
            owner,
            key: format!("tap:{message_id}:{data}"),
            at: now,
            until: now.plus(window),
        }
    }
}

/// Why a commit wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitRefused {
    /// The day's spend had no room for the charge.
    OverBudget { spent: Usd },
    /// The user's balance was short of the price.
    NotEnoughCredits(NotEnoughCredits),
    /// Its cause committed this work already: nothing new is paid for.
    Duplicate(WorkRef),
    /// What it would belong to is gone or being deleted.
    Gone,
}
