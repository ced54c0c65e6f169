use crate::domain::{Charge, LedgerEntry, NotEnoughCredits, Usd};

/// What a commit to paid work (an avatar's move to `queued`, a new generation) carries with
/// it, all in the same write: the estimated fal.ai spend added to its day, and the user's
/// debit in credits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitCost {
    pub spend: Option<Charge>,
    /// A debit entry (negative delta), applied once by its key.
    pub debit: Option<LedgerEntry>,
}

/// Why a commit wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitRefused {
    /// The day's spend had no room for the charge.
    OverBudget { spent: Usd },
    /// The user's balance was short of the price.
    NotEnoughCredits(NotEnoughCredits),
}
