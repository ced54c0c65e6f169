//! The product's rules on who may do what now: pure functions over the user's records and
//! the operator's limits. The dialogue (`bot/`) asks them and words their refusals through
//! `telegram/texts`; nothing here reads a store or sends a message.

use std::collections::BTreeSet;
use std::time::Duration;

use super::credits::{Billing, Credits, NotEnoughCredits};
use super::spend::{Costs, SpendCap, Usd};
use super::{
    Avatar, AvatarKind, AvatarStatus, Generation, ImageCount, Preset, Timestamp, UpscaleFactor,
    UserId,
};

const HOUR: Duration = Duration::from_secs(3600);

/// The operator's limits (read from the environment by `bot/settings.rs`): who may use the
/// bot, how much each user may do, and what work costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub access: Access,
    pub quotas: Quotas,
    pub money: Money,
    /// The operator's wording of the consent a person's photos need (`CONSENT_TEXT`, Telegram
    /// HTML); the built-in text in the user's language otherwise.
    pub consent_text: Option<String>,
    /// How many days generated pictures and their records are kept (`RETENTION_DAYS`);
    /// `None` keeps them until their avatar is deleted.
    pub retention_days: Option<u32>,
}

/// Who may use the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub audience: Audience,
    /// The operators: always admitted.
    pub admins: BTreeSet<UserId>,
}

/// Everyone, or a private bot's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// A private bot: these Telegram user ids (and the admins) only.
    AllowList(BTreeSet<UserId>),
}

impl Access {
    /// Whether `user` may use the bot. Strangers of a private bot are refused before
    /// anything is written for them.
    pub fn admits(&self, user: UserId) -> bool {
        match &self.audience {
            Audience::Everyone => true,
            Audience::AllowList(allowed) => allowed.contains(&user) || self.admins.contains(&user),
        }
    }
}

/// How much one user may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    pub min_photos_portrait: u32,
    pub min_photos_style: u32,
    pub max_photos: u32,
    pub max_trainings_in_flight: u32,
    /// Generations one user may have running at once.
    pub max_generations_in_flight: u32,
    /// Generations one user may start in any hour.
    pub generations_per_hour: u32,
}

impl Quotas {
    /// The photo minimum for an avatar of this kind.
    pub fn min_photos(&self, kind: AvatarKind) -> u32 {
        match kind {
            AvatarKind::Portrait => self.min_photos_portrait,
            AvatarKind::Style => self.min_photos_style,
        }
    }

    /// How many of each avatar's newest generations [`generation_refusal`] needs to see.
    pub fn generation_window(&self) -> u32 {
        // Records, not pieces: a photo pack's pictures are records of one piece each.
        (self.generations_per_hour + self.max_generations_in_flight)
            * crate::domain::photo_packs::MAX_PICTURES as u32
    }
}

/// What work costs: the estimates charged against the daily cap, and the prices in credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// The global cap on estimated fal.ai spend per UTC day.
    pub spend_cap: SpendCap,
    pub costs: Costs,
    /// Free, or paid for in credits bought with Telegram Stars.
    pub billing: Billing,
    /// How many times wider and taller an upscale makes a picture (`UPSCALE_FACTOR`).
    pub upscale_factor: UpscaleFactor,
    /// The first look drawn while a portrait avatar trains (`INSTANT_PREVIEW`).
    pub first_look: FirstLookOffer,
}

/// The first look: how many pictures (0: off), each one's price in a paying bot
/// (`PRICE_FIRST_LOOK_CREDITS`, 0 allowed) and its estimated cost (`COST_FIRST_LOOK_USD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstLookOffer {
    pub pictures: u8,
    pub price: Credits,
    pub cost: Usd,
}

impl FirstLookOffer {
    pub const OFF: FirstLookOffer = FirstLookOffer {
        pictures: 0,
        price: Credits(0),
        cost: Usd(0),
    };
}

impl Money {
    /// What a piece of paid work costs: the one pricing function, for the screens that show
    /// the price before the tap and for the commit that charges it.
    pub fn quote(&self, what: Priced) -> Quote {
        let (estimate, price) = match what {
            Priced::Training(preset) => (
                self.costs.training(preset),
                self.billing.price_of_training(preset),
            ),
            Priced::Pictures(count) => (
                self.costs.generation(count),
                self.billing.price_of_generation(count),
            ),
            Priced::Upscale { pixels } => (
                self.costs.upscale(pixels, self.upscale_factor),
                self.billing.price_of_upscale(),
            ),
            Priced::FirstLook => (
                self.first_look.cost,
                match self.billing {
                    crate::domain::Billing::Free => None,
                    crate::domain::Billing::Stars { .. } => Some(self.first_look.price),
                },
            ),
        };
        Quote { estimate, price }
    }
}

/// What is priced: a training of a preset, a number of pictures, an upscale of a picture of
/// `pixels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priced {
    Training(Preset),
    Pictures(ImageCount),
    Upscale {
        pixels: u64,
    },
    /// One picture of a first look.
    FirstLook,
}

/// The cost of a piece of paid work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// The estimated fal.ai spend, charged against the daily cap.
    pub estimate: Usd,
    /// Its price in credits, in a paying bot (`None` in a free one).
    pub price: Option<Credits>,
}

/// Why the user's attempt to start training was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingRefusal {
    NotEnoughPhotos {
        count: u32,
        min: u32,
    },
    TooManyInFlight {
        limit: u32,
    },
    AlreadyStarted,
    /// The bot's daily spend cap is reached; it resets at midnight UTC.
    DailyBudget {
        resets_in_minutes: u64,
    },
    /// The user's credits do not cover the price.
    NotEnoughCredits(NotEnoughCredits),
}

/// Why a generation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationRefusal {
    /// The avatar is not trained (yet, or any more).
    NotTrained,
    TooManyInFlight {
        limit: u32,
    },
    /// `limit` generations in the last hour; the next is possible in `wait_minutes`.
    HourlyLimit {
        limit: u32,
        wait_minutes: u64,
    },
    /// The bot's daily spend cap is reached; it resets at midnight UTC.
    DailyBudget {
        resets_in_minutes: u64,
    },
    /// The user's credits do not cover the price.
    NotEnoughCredits(NotEnoughCredits),
}

/// Minutes until the spend cap resets, for a refusal (at least one).
pub fn budget_resets_in_minutes(now: Timestamp) -> u64 {
    super::spend::SpendDay::ends_in(now)
        .as_secs()
        .div_ceil(60)
        .max(1)
}

/// Why a photo is not taken before it is even downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoRefusal {
    /// A person's photos wait for the user's consent.
    NeedsConsent,
    /// The avatar is past collecting photos.
    Closed,
    /// The avatar has the maximum already.
    Full { max: u32 },
}

/// Whether `avatar` may take another photo.
pub fn photo_refusal(avatar: &Avatar, limits: &Limits) -> Option<PhotoRefusal> {
    if !avatar.status().accepts_photos() {
        return Some(PhotoRefusal::Closed);
    }
    if avatar.needs_consent() {
        return Some(PhotoRefusal::NeedsConsent);
    }
    (avatar.photo_count >= limits.quotas.max_photos).then_some(PhotoRefusal::Full {
        max: limits.quotas.max_photos,
    })
}

/// Whether a collecting avatar has enough photos to become `ready`.
pub fn reaches_minimum(avatar: &Avatar, limits: &Limits) -> bool {
    avatar.status() == AvatarStatus::CollectingPhotos
        && avatar.photo_count >= limits.quotas.min_photos(avatar.kind)
}

/// Why `avatar` cannot start training now, given all of its owner's avatars.
pub fn training_refusal(
    avatar: &Avatar,
    owners_avatars: &[Avatar],
    limits: &Limits,
) -> Option<TrainingRefusal> {
    let min = limits.quotas.min_photos(avatar.kind);
    let not_enough = TrainingRefusal::NotEnoughPhotos {
        count: avatar.photo_count,
        min,
    };
    match avatar.status() {
        AvatarStatus::Ready | AvatarStatus::CollectingPhotos => {}
        AvatarStatus::Draft => return Some(not_enough),
        _ => return Some(TrainingRefusal::AlreadyStarted),
    }
    if avatar.photo_count < min {
        return Some(not_enough);
    }
    let limit = limits.quotas.max_trainings_in_flight;
    let running = owners_avatars
        .iter()
        .filter(|a| a.id != avatar.id && a.status().is_training_in_progress())
        .count();
    (running >= limit as usize).then_some(TrainingRefusal::TooManyInFlight { limit })
}

/// Why `avatar`'s owner cannot start another generation now, given the newest generations
/// of all their avatars ([`Quotas::generation_window`](crate::domain::Quotas::generation_window) of each).
pub fn generation_refusal(
    avatar: &Avatar,
    recent: &[Generation],
    limits: &Limits,
    now: Timestamp,
) -> Option<GenerationRefusal> {
    if avatar.status() != AvatarStatus::Completed {
        return Some(GenerationRefusal::NotTrained);
    }
    // A photo pack's pictures are one piece of work, as the user asked for it.
    let pieces = |of: &mut dyn Iterator<Item = &Generation>| {
        let mut seen = std::collections::HashSet::new();
        of.filter(|g| seen.insert(g.piece())).count()
    };
    let max_in_flight = limits.quotas.max_generations_in_flight;
    let running = pieces(&mut recent.iter().filter(|g| g.is_running()));
    if running >= max_in_flight as usize {
        return Some(GenerationRefusal::TooManyInFlight {
            limit: max_in_flight,
        });
    }
    let per_hour = limits.quotas.generations_per_hour;
    let hour_ago = now.minus(HOUR);
    let mut pieces_seen = std::collections::HashSet::new();
    let in_last_hour: Vec<Timestamp> = recent
        .iter()
        .filter(|g| g.created_at > hour_ago && pieces_seen.insert(g.piece()))
        .map(|g| g.created_at)
        .collect();
    if in_last_hour.len() >= per_hour as usize {
        let oldest = in_last_hour.iter().min().copied().unwrap_or(now);
        let free_at = oldest.plus(HOUR);
        return Some(GenerationRefusal::HourlyLimit {
            limit: per_hour,
            wait_minutes: free_at.since(now).as_secs().div_ceil(60),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AvatarEvent, AvatarName, FailureReason, Gender, GenerationDefaults, GenerationState,
        Preset, Prompt, UserId,
    };

    fn limits() -> Limits {
        Limits {
            access: Access {
                audience: Audience::Everyone,
                admins: BTreeSet::new(),
            },
            quotas: Quotas {
                min_photos_portrait: 10,
                min_photos_style: 5,
                max_photos: 20,
                max_trainings_in_flight: 1,
                max_generations_in_flight: 2,
                generations_per_hour: 3,
            },
            money: Money {
                spend_cap: SpendCap::Off,
                costs: Costs {
                    training: crate::domain::PerPreset {
                        fast: crate::domain::Usd(2_000_000),
                        balanced: crate::domain::Usd(4_000_000),
                        quality: crate::domain::Usd(6_000_000),
                    },
                    image: crate::domain::Usd(40_000),
                    upscale_per_megapixel: crate::domain::Usd(1_000),
                },
                billing: crate::domain::Billing::Free,
                upscale_factor: UpscaleFactor::TWO,
                first_look: FirstLookOffer::OFF,
            },
            consent_text: None,
            retention_days: Some(90),
        }
    }

    #[test]
    fn a_private_bot_admits_its_list_and_its_admins_only() {
        let mut l = limits().access;
        assert!(l.admits(UserId(99)));
        l.audience = Audience::AllowList(BTreeSet::from([UserId(1)]));
        l.admins = BTreeSet::from([UserId(7)]);
        assert!(l.admits(UserId(1)));
        assert!(l.admits(UserId(7)));
        assert!(!l.admits(UserId(99)));
    }

    fn avatar(kind: AvatarKind) -> Avatar {
        Avatar::draft(
            UserId(1),
            kind,
            Gender::Female,
            AvatarName::parse("A").unwrap(),
            Preset::Fast,
            Timestamp(0),
        )
    }

    fn collecting(kind: AvatarKind, photos: u32) -> Avatar {
        let mut a = avatar(kind)
            .apply(AvatarEvent::BeginPhotos, Timestamp(1))
            .unwrap();
        a.photo_count = photos;
        a
    }

    fn step(a: &Avatar, event: AvatarEvent) -> Avatar {
        a.apply(event, Timestamp(2)).unwrap()
    }

    fn completed() -> Avatar {
        let mut a = collecting(AvatarKind::Portrait, 10);
        a.state = crate::domain::AvatarState::Work(crate::domain::WorkState::Completed {
            request: crate::domain::FalRequest {
                request_id: "r".into(),
                endpoint: "fal-ai/flux-lora-portrait-trainer".into(),
            },
            submitted_at: Timestamp(2),
            output: crate::domain::TrainingOutput {
                model: crate::domain::TrainedModel::Lora {
                    lora_url: "https://v3.fal.media/x.safetensors".into(),
                    config_url: None,
                    stored_key: None,
                },
                raw_response: "{}".into(),
            },
            completed_at: Timestamp(3),
        });
        a
    }

    fn generation(created_at: Timestamp, state: GenerationState) -> Generation {
        let mut g = Generation::queued(
            &completed(),
            Prompt::parse("p").unwrap(),
            None,
            GenerationDefaults::default(),
            created_at,
        );
        g.state = state;
        g
    }

    #[test]
    fn photos_stop_at_the_maximum_and_after_collecting() {
        let l = limits();
        assert_eq!(photo_refusal(&collecting(AvatarKind::Style, 19), &l), None);
        assert_eq!(
            photo_refusal(&collecting(AvatarKind::Style, 20), &l),
            Some(PhotoRefusal::Full { max: 20 })
        );
        let queued = step(
            &step(
                &collecting(AvatarKind::Style, 5),
                AvatarEvent::MinimumReached,
            ),
            AvatarEvent::Enqueue,
        );
        assert_eq!(photo_refusal(&queued, &l), Some(PhotoRefusal::Closed));
        // A person's photos wait for consent; a style's never do.
        let person = collecting(AvatarKind::Portrait, 0);
        assert_eq!(photo_refusal(&person, &l), Some(PhotoRefusal::NeedsConsent));
        let consented = Avatar {
            consented_at: Some(Timestamp(1)),
            ..person
        };
        assert_eq!(photo_refusal(&consented, &l), None);
        assert!(reaches_minimum(&collecting(AvatarKind::Style, 5), &l));
        assert!(!reaches_minimum(&collecting(AvatarKind::Portrait, 5), &l));
    }

    #[test]
    fn training_needs_the_minimum_and_a_free_slot() {
        let l = limits();
        let few = collecting(AvatarKind::Portrait, 3);
        assert_eq!(
            training_refusal(&few, &[], &l),
            Some(TrainingRefusal::NotEnoughPhotos { count: 3, min: 10 })
        );
        assert_eq!(
            training_refusal(&avatar(AvatarKind::Style), &[], &l),
            Some(TrainingRefusal::NotEnoughPhotos { count: 0, min: 5 })
        );
        let enough = collecting(AvatarKind::Portrait, 10);
        assert_eq!(
            training_refusal(&enough, std::slice::from_ref(&enough), &l),
            None
        );
        let other = step(
            &step(
                &collecting(AvatarKind::Style, 5),
                AvatarEvent::MinimumReached,
            ),
            AvatarEvent::Enqueue,
        );
        assert_eq!(
            training_refusal(&enough, &[enough.clone(), other.clone()], &l),
            Some(TrainingRefusal::TooManyInFlight { limit: 1 })
        );
        assert_eq!(
            training_refusal(&other, std::slice::from_ref(&other), &l),
            Some(TrainingRefusal::AlreadyStarted)
        );
    }

    #[test]
    fn generations_count_running_work_and_the_last_hour() {
        let now = Timestamp(10_000_000);
        let a = completed();
        let mut l = limits();
        assert_eq!(
            generation_refusal(&collecting(AvatarKind::Portrait, 10), &[], &l, now),
            Some(GenerationRefusal::NotTrained)
        );
        let failed = || GenerationState::Failed {
            reason: FailureReason::TimedOut,
            failed_at: now,
        };
        let running = vec![
            generation(
                now,
                GenerationState::Queued {
                    queued_at: now,
                    claims: 0,
                },
            ),
            generation(
                now,
                GenerationState::Submitting {
                    attempt: crate::domain::AttemptId::new(),
                    claimed_at: now,
                    lease_until: now,
                    claims: 1,
                },
            ),
        ];
        l.quotas.generations_per_hour = 30;
        assert_eq!(
            generation_refusal(&a, &running, &l, now),
            Some(GenerationRefusal::TooManyInFlight { limit: 2 })
        );
        l.quotas.max_generations_in_flight = 3;
        assert_eq!(generation_refusal(&a, &running, &l, now), None);
        // Three finished in the last hour, the oldest 50 minutes ago: free in 10 minutes.
        let done = vec![
            generation(now.minus(Duration::from_secs(50 * 60)), failed()),
            generation(now.minus(Duration::from_secs(20 * 60)), failed()),
            generation(now.minus(Duration::from_secs(61 * 60)), failed()),
            generation(now.minus(Duration::from_secs(60)), failed()),
        ];
        l.quotas.max_generations_in_flight = 2;
        l.quotas.generations_per_hour = 3;
        assert_eq!(
            generation_refusal(&a, &done, &l, now),
            Some(GenerationRefusal::HourlyLimit {
                limit: 3,
                wait_minutes: 10
            })
        );
        l.quotas.generations_per_hour = 4;
        assert_eq!(generation_refusal(&a, &done, &l, now), None);
    }
}
