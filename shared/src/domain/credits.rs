//! Credits: what a user of a paying bot holds, buys with Telegram Stars and spends on
//! trainings and generations. Pure values; the store applies each [`LedgerEntry`] together
//! with the balance in one conditional transaction, keyed by [`LedgerEntry::key`], so an entry
//! applies at most once and a balance never goes below zero.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::avatar::PerPreset;
use super::{ImageCount, Preset, Timestamp, UserId, Work};

/// A number of credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credits(pub u64);

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Credits {
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why the balance changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits bought with Stars, keyed by Telegram's charge id.
    Purchase { charge_id: String, stars: u32 },
    /// Credits spent on work, at the work's commit point.
    Debit { work: Work },
    /// The credits of a debit given back, because the work failed or delivered nothing.
    Refund { work: Work },
    /// Credits given by an operator, keyed by the request id the operator chose.
    Grant { request_id: String },
    /// A purchase's credits taken back because its Stars were refunded.
    PaymentRefund { charge_id: String },
    /// Those credits given back again: Telegram refused, for good, to refund the Stars.
    PaymentRefundReversed { charge_id: String },
}

/// One change of one user's balance. Applying an entry whose key was applied before changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub owner: UserId,
    pub kind: EntryKind,
    /// What is added to the balance (negative for a debit).
    pub delta: i64,
    pub at: Timestamp,
}

impl LedgerEntry {
    /// The idempotency key: one per purchase, debit, refund, grant request, payment refund.
    pub fn key(&self) -> String {
        match &self.kind {
            EntryKind::Purchase { charge_id, .. } => format!("purchase:{charge_id}"),
            EntryKind::Debit { work } => format!("debit:{}", work.key()),
            EntryKind::Refund { work } => format!("refund:{}", work.key()),
            EntryKind::Grant { request_id } => format!("grant:{request_id}"),
            EntryKind::PaymentRefund { charge_id } => format!("payment_refund:{charge_id}"),
            EntryKind::PaymentRefundReversed { charge_id } => {
                format!("payment_refund_reversed:{charge_id}")
            }
        }
    }

    pub fn debit(owner: UserId, work: Work, price: Credits, at: Timestamp) -> Self {
        Self {
            owner,
            kind: EntryKind::Debit { work },
            delta: -signed(price),
            at,
        }
    }

    /// The refund of `debit` (which must be a debit): the same credits back.
    pub fn refund_of(debit: &LedgerEntry, at: Timestamp) -> Option<Self> {
        let EntryKind::Debit { work } = debit.kind else {
            return None;
        };
        Some(Self {
            owner: debit.owner,
            kind: EntryKind::Refund { work },
            delta: -debit.delta,
            at,
        })
    }

    pub fn purchase(
        owner: UserId,
        charge_id: &str,
        stars: u32,
        credits: Credits,
        at: Timestamp,
    ) -> Self {
        Self {
            owner,
            kind: EntryKind::Purchase {
                charge_id: charge_id.to_owned(),
                stars,
            },
            delta: signed(credits),
            at,
        }
    }

    pub fn grant(owner: UserId, request_id: &str, credits: Credits, at: Timestamp) -> Self {
        Self {
            owner,
            kind: EntryKind::Grant {
                request_id: request_id.to_owned(),
            },
            delta: signed(credits),
            at,
        }
    }

    /// Takes back what `purchase` (which must be a purchase) gave.
    pub fn payment_refund_of(purchase: &LedgerEntry, at: Timestamp) -> Option<Self> {
        let EntryKind::Purchase { charge_id, .. } = &purchase.kind else {
            return None;
        };
        Some(Self {
            owner: purchase.owner,
            kind: EntryKind::PaymentRefund {
                charge_id: charge_id.clone(),
            },
            delta: -purchase.delta,
            at,
        })
    }

    /// Gives back what `payment_refund` (which must be one) took: Telegram refused the Stars
    /// refund for good.
    pub fn reversal_of(payment_refund: &LedgerEntry, at: Timestamp) -> Option<Self> {
        let EntryKind::PaymentRefund { charge_id } = &payment_refund.kind else {
            return None;
        };
        Some(Self {
            owner: payment_refund.owner,
            kind: EntryKind::PaymentRefundReversed {
                charge_id: charge_id.clone(),
            },
            delta: -payment_refund.delta,
            at,
        })
    }

    /// The key of the reversal of a Stars refund of this charge.
    pub fn reversal_key(charge_id: &str) -> String {
        format!("payment_refund_reversed:{charge_id}")
    }

    /// The key of the debit of `work`, to look it up (for its refund).
    pub fn debit_key(work: Work) -> String {
        format!("debit:{}", work.key())
    }

    /// The key of the refund of `work`, to tell whether it was given back.
    pub fn refund_key(work: Work) -> String {
        format!("refund:{}", work.key())
    }

    /// The key of the purchase paid with this charge.
    pub fn purchase_key(charge_id: &str) -> String {
        format!("purchase:{charge_id}")
    }
}

fn signed(c: Credits) -> i64 {
    i64::try_from(c.0).unwrap_or(i64::MAX)
}

/// A pack of credits sold for Stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pack {
    pub credits: Credits,
    pub stars: u32,
}

impl Pack {
    /// The invoice payload naming this pack: checked at pre-checkout and read back when the
    /// payment arrives, so a price changed in between is caught before the user pays.
    pub fn payload(&self) -> String {
        format!("credits:{}:{}", self.credits.0, self.stars)
    }

    pub fn from_payload(payload: &str) -> Option<Self> {
        let rest = payload.strip_prefix("credits:")?;
        let (credits, stars) = rest.split_once(':')?;
        let pack = Pack {
            credits: Credits(credits.parse().ok()?),
            stars: stars.parse().ok()?,
        };
        (pack.credits.0 > 0 && pack.stars > 0).then_some(pack)
    }
}

/// What work costs in credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    pub training: PerPreset<Credits>,
    pub image: Credits,
    /// One picture made bigger.
    pub upscale: Credits,
}

impl Prices {
    pub fn training(&self, preset: Preset) -> Credits {
        self.training.get(preset)
    }

    pub fn generation(&self, images: ImageCount) -> Credits {
        Credits(self.image.0.saturating_mul(u64::from(images.get())))
    }
}

/// How the bot is paid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billing {
    /// Per-user quotas only.
    Free,
    /// Credits bought with Telegram Stars pay for every training and generation.
    Stars {
        prices: Prices,
        packs: Vec<Pack>,
        /// The operator's own `/terms` and `/paysupport` answers (else the built-in ones).
        terms: Option<String>,
        support: Option<String>,
    },
}

impl Billing {
    /// What this work costs, when the bot charges for work.
    pub fn price_of_training(&self, preset: Preset) -> Option<Credits> {
        match self {
            Billing::Free => None,
            Billing::Stars { prices, .. } => Some(prices.training(preset)),
        }
    }

    pub fn price_of_generation(&self, images: ImageCount) -> Option<Credits> {
        match self {
            Billing::Free => None,
            Billing::Stars { prices, .. } => Some(prices.generation(images)),
        }
    }

    pub fn price_of_upscale(&self) -> Option<Credits> {
        match self {
            Billing::Free => None,
            Billing::Stars { prices, .. } => Some(prices.upscale),
        }
    }

    /// The pack on sale that matches, if it still is on sale.
    pub fn pack(&self, wanted: Pack) -> Option<Pack> {
        match self {
            Billing::Free => None,
            Billing::Stars { packs, .. } => packs.iter().copied().find(|p| *p == wanted),
        }
    }
}

/// The balance was short: nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotEnoughCredits {
    pub balance: Credits,
    pub price: Credits,
}

impl NotEnoughCredits {
    pub fn missing(&self) -> Credits {
        Credits(self.price.0.saturating_sub(self.balance.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AvatarId;

    #[test]
    fn every_kind_of_entry_has_its_own_key() {
        let avatar = AvatarId::new();
        let at = Timestamp(0);
        let debit = LedgerEntry::debit(UserId(1), Work::training(avatar), Credits(50), at);
        let refund = LedgerEntry::refund_of(&debit, at).unwrap();
        assert_eq!(debit.key(), LedgerEntry::debit_key(Work::training(avatar)));
        assert_eq!(debit.delta, -50);
        assert_eq!(refund.delta, 50);
        assert_ne!(debit.key(), refund.key());
        assert!(LedgerEntry::refund_of(&refund, at).is_none());
        let bought = LedgerEntry::purchase(UserId(1), "ch_1", 250, Credits(50), at);
        assert_eq!(bought.key(), LedgerEntry::purchase_key("ch_1"));
        let back = LedgerEntry::payment_refund_of(&bought, at).unwrap();
        assert_eq!(back.delta, -50);
        assert_ne!(
            LedgerEntry::grant(UserId(1), "ch_1", Credits(1), at).key(),
            bought.key()
        );
    }

    #[test]
    fn pack_payloads_round_trip_and_refuse_junk() {
        let pack = Pack {
            credits: Credits(50),
            stars: 250,
        };
        assert_eq!(Pack::from_payload(&pack.payload()), Some(pack));
        for junk in [
            "",
            "credits:",
            "credits:0:5",
            "credits:5:0",
            "credits:-1:5",
            "x:1:2",
            "credits:1:2:3",
        ] {
            assert_eq!(Pack::from_payload(junk), None, "{junk:?}");
        }
        let billing = Billing::Stars {
            prices: Prices {
                training: PerPreset {
                    fast: Credits(1),
                    balanced: Credits(2),
                    quality: Credits(3),
                },
                image: Credits(1),
                upscale: Credits(2),
            },
            packs: vec![pack],
            terms: None,
            support: None,
        };
        assert_eq!(billing.pack(pack), Some(pack));
        assert_eq!(
            billing.pack(Pack {
                credits: Credits(50),
                stars: 1
            }),
            None
        );
        assert_eq!(Billing::Free.price_of_training(Preset::Fast), None);
    }
}
