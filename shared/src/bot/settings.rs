//! The conversation's limits, read from the environment: who may use the bot
//! (`BOT_ACCESS`...), each user's quotas (`PHOTOS_*`, `MAX_*`, `GENERATIONS_PER_HOUR`) and
//! what work costs (`SPEND_CAP_USD_PER_DAY`, `COST_*`, `BILLING`, `PRICE_*`, `CREDIT_PACKS`).

use crate::config::{EnvReader, FromEnv};
use crate::domain::{Access, Audience, AvatarKind, Limits, Money, PerPreset, Quotas, UserId};
use crate::fal::upscale::UpscaleSettings;

impl FromEnv for Limits {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let min_photos_portrait = env.optional(
            "PHOTOS_MIN_PORTRAIT",
            AvatarKind::Portrait.profile().default_min_photos,
        );
        let min_photos_style = env.optional(
            "PHOTOS_MIN_STYLE",
            AvatarKind::Style.profile().default_min_photos,
        );
        let max_photos = env.optional("PHOTOS_MAX", 20u32);
        let max_trainings_in_flight = env.optional("MAX_TRAININGS_PER_USER", 1u32);
        let max_generations_in_flight = env.optional("MAX_GENERATIONS_IN_FLIGHT", 2u32);
        let generations_per_hour = env.optional("GENERATIONS_PER_HOUR", 30u32);
        if max_generations_in_flight == Some(0) {
            env.reject("MAX_GENERATIONS_IN_FLIGHT", "must be at least 1");
        }
        if generations_per_hour == Some(0) {
            env.reject("GENERATIONS_PER_HOUR", "must be at least 1");
        }
        let access = read_access(env);
        let spending = read_spending(env);
        let billing = read_billing(env);
        let first_look = read_first_look(env);
        let consent_text: Option<Option<String>> = env.maybe("CONSENT_TEXT");
        let retention_days = read_retention(env);
        let quotas = Quotas {
            min_photos_portrait: min_photos_portrait?,
            min_photos_style: min_photos_style?,
            max_photos: max_photos?,
            max_trainings_in_flight: max_trainings_in_flight?,
            max_generations_in_flight: max_generations_in_flight.filter(|n| *n > 0)?,
            generations_per_hour: generations_per_hour.filter(|n| *n > 0)?,
        };
        let smallest = quotas.min_photos_portrait.min(quotas.min_photos_style);
        if smallest == 0
            || quotas.max_photos < quotas.min_photos_portrait.max(quotas.min_photos_style)
        {
            env.reject("PHOTOS_MAX", "must be at least PHOTOS_MIN_PORTRAIT and PHOTOS_MIN_STYLE, which must be at least 1");
            return None;
        }
        if quotas.max_trainings_in_flight == 0 {
            env.reject("MAX_TRAININGS_PER_USER", "must be at least 1");
            return None;
        }
        let (spend_cap, costs, upscale_factor) = spending?;
        Some(Self {
            access: access?,
            quotas,
            money: Money {
                spend_cap,
                costs,
                billing: billing?,
                upscale_factor,
                first_look: first_look?,
            },
            consent_text: consent_text?.filter(|t| !t.trim().is_empty()),
            retention_days: retention_days?,
        })
    }
}

/// `RETENTION_DAYS`: 1 or more, or `off` (kept until the avatar is deleted); 90 by default.
pub fn read_retention(env: &mut EnvReader) -> Option<Option<u32>> {
    let raw: Option<Option<String>> = env.maybe("RETENTION_DAYS");
    match raw?.as_deref().map(str::trim) {
        None | Some("") => Some(Some(DEFAULT_RETENTION_DAYS)),
        Some(off) if off.eq_ignore_ascii_case("off") => Some(None),
        Some(days) => match days.parse::<u32>() {
            Ok(days) if days >= 1 => Some(Some(days)),
            _ => {
                env.reject(
                    "RETENTION_DAYS",
                    "must be a number of days (1 or more) or off",
                );
                None
            }
        },
    }
}

/// How long pictures are kept when the operator does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Telegram user ids, comma-separated.
fn user_ids(env: &mut EnvReader, name: &'static str) -> Option<std::collections::BTreeSet<UserId>> {
    let raw: String = env.optional(name, String::new())?;
    let mut ids = std::collections::BTreeSet::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(id) if id > 0 => {
                ids.insert(UserId(id));
            }
            _ => {
                env.reject(name, format!("{part:?} is not a Telegram user id"));
                return None;
            }
        }
    }
    Some(ids)
}

/// `BOT_ACCESS` (`everyone` or `allow_list`) with `ALLOWED_USER_IDS`, and `ADMIN_USER_IDS`.
fn read_access(env: &mut EnvReader) -> Option<Access> {
    let mode: String = env.optional("BOT_ACCESS", "everyone".to_owned())?;
    let allowed = user_ids(env, "ALLOWED_USER_IDS");
    let admins = user_ids(env, "ADMIN_USER_IDS")?;
    let audience = match mode.as_str() {
        "everyone" => Audience::Everyone,
        "allow_list" => {
            let allowed = allowed?;
            if allowed.is_empty() && admins.is_empty() {
                env.reject(
                    "ALLOWED_USER_IDS",
                    "is empty: with BOT_ACCESS=allow_list nobody could use the bot",
                );
                return None;
            }
            Audience::AllowList(allowed)
        }
        other => {
            env.reject(
                "BOT_ACCESS",
                format!("must be everyone or allow_list, not {other:?}"),
            );
            return None;
        }
    };
    Some(Access { audience, admins })
}

/// A dollar amount with a default.
fn usd(env: &mut EnvReader, name: &'static str, default: &str) -> Option<crate::domain::Usd> {
    let raw: String = env.optional(name, default.to_owned())?;
    match crate::domain::Usd::parse(&raw) {
        Ok(v) => Some(v),
        Err(e) => {
            env.reject(name, e.to_string());
            None
        }
    }
}

/// `SPEND_CAP_USD_PER_DAY` (20 by default, none in test mode; `off` to switch it off) and the
/// cost estimates.
fn read_spending(
    env: &mut EnvReader,
) -> Option<(
    crate::domain::SpendCap,
    crate::domain::Costs,
    crate::domain::UpscaleFactor,
)> {
    // Test mode spends nothing at fal.ai, so it has no cap unless one is asked for.
    let test_mode = env.flag("AVATAR_TEST_MODE", false)?;
    let default_cap = if test_mode { "off" } else { "20" };
    let raw: String = env.optional("SPEND_CAP_USD_PER_DAY", default_cap.to_owned())?;
    let cap = if raw.trim().eq_ignore_ascii_case("off") {
        Some(crate::domain::SpendCap::Off)
    } else {
        match crate::domain::Usd::parse(&raw) {
            Ok(cap) if cap.micros() > 0 => Some(crate::domain::SpendCap::PerDay(cap)),
            Ok(_) => {
                env.reject("SPEND_CAP_USD_PER_DAY", "must be more than 0 (or off)");
                None
            }
            Err(e) => {
                env.reject("SPEND_CAP_USD_PER_DAY", format!("{e} (or off)"));
                None
            }
        }
    };
    // fal's published prices (docs/costs in the README): about $2 a fast run, more with steps.
    const VARS: PerPreset<(&str, &str)> = PerPreset {
        fast: ("COST_TRAINING_USD_FAST", "2"),
        balanced: ("COST_TRAINING_USD_BALANCED", "4"),
        quality: ("COST_TRAINING_USD_QUALITY", "6"),
    };
    // Every estimate is read before any `?`, so all problems are reported at once.
    let training = PerPreset::from_fn(|p| {
        let (name, default) = VARS.get(p);
        usd(env, name, default)
    });
    let image = usd(env, "COST_IMAGE_USD", "0.04");
    // What an upscale is (the launch worker reads the same), priced at the upscaler's list
    // price unless the operator knows better.
    let upscale = UpscaleSettings::read(env);
    let per_megapixel = upscale.map(|u| u.upscaler.usd_per_megapixel().to_string_exact());
    let upscale_cost =
        per_megapixel.and_then(|default| usd(env, "COST_UPSCALE_USD_PER_MEGAPIXEL", &default));
    let costs = crate::domain::Costs {
        training: training.transpose()?,
        image: image?,
        upscale_per_megapixel: upscale_cost?,
    };
    Some((cap?, costs, upscale?.factor))
}

/// `INSTANT_PREVIEW` (`off`, `1` or `2` pictures drawn from the user's best photo while a
/// portrait avatar trains), each picture's price in credits and estimated cost: fal lists
/// flux-pulid at $0.0333 per megapixel, and a 3:4 picture is about one.
fn read_first_look(env: &mut EnvReader) -> Option<crate::domain::policy::FirstLookOffer> {
    let raw: String = env.optional("INSTANT_PREVIEW", "off".to_owned())?;
    let pictures = match raw.trim() {
        "off" | "0" | "" => 0,
        "1" | "on" => 1,
        "2" => 2,
        other => {
            env.reject(
                "INSTANT_PREVIEW",
                format!("must be off, 1 or 2 (pictures), got {other:?}"),
            );
            return None;
        }
    };
    let price = env.optional::<u64>("PRICE_FIRST_LOOK_CREDITS", 1);
    let cost = usd(env, "COST_FIRST_LOOK_USD", "0.035");
    Some(crate::domain::policy::FirstLookOffer {
        pictures,
        price: crate::domain::Credits(price?),
        cost: cost?,
    })
}

/// `BILLING` (`free` or `stars`), the prices in credits, the packs sold for Stars and the
/// operator's `/terms` and `/paysupport` texts.
fn read_billing(env: &mut EnvReader) -> Option<crate::domain::Billing> {
    use crate::domain::{Billing, Credits, Pack, Prices};
    let mode: String = env.optional("BILLING", "free".to_owned())?;
    let credits = |env: &mut EnvReader, name: &'static str, default: u64| {
        env.optional::<u64>(name, default).map(Credits)
    };
    const VARS: PerPreset<(&str, u64)> = PerPreset {
        fast: ("PRICE_TRAINING_CREDITS_FAST", 50),
        balanced: ("PRICE_TRAINING_CREDITS_BALANCED", 100),
        quality: ("PRICE_TRAINING_CREDITS_QUALITY", 150),
    };
    // Every price is read before any `?`, so all problems are reported at once.
    let training = PerPreset::from_fn(|p| {
        let (name, default) = VARS.get(p);
        credits(env, name, default)
    });
    let image = credits(env, "PRICE_IMAGE_CREDITS", 1);
    let upscale = credits(env, "PRICE_UPSCALE_CREDITS", 2);
    let raw: String = env.optional("CREDIT_PACKS", "50:250,120:550,300:1250".to_owned())?;
    let mut packs = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        // Telegram takes 1 to 10000 Stars for one invoice.
        let pack = part.split_once(':').and_then(|(c, s)| {
            let pack = Pack {
                credits: Credits(c.trim().parse().ok()?),
                stars: s.trim().parse().ok()?,
            };
            (pack.credits.0 > 0 && (1..=10_000).contains(&pack.stars)).then_some(pack)
        });
        match pack {
            Some(pack) if !packs.contains(&pack) => packs.push(pack),
            Some(_) => {}
            None => {
                env.reject(
                    "CREDIT_PACKS",
                    format!("{part:?} is not credits:stars (credits at least 1, 1-10000 Stars)"),
                );
                return None;
            }
        }
    }
    let terms: Option<Option<String>> = env.maybe("TERMS_TEXT");
    let support: Option<Option<String>> = env.maybe("PAYSUPPORT_TEXT");
    match mode.as_str() {
        "free" => Some(Billing::Free),
        "stars" => {
            if packs.is_empty() {
                env.reject(
                    "CREDIT_PACKS",
                    "is empty: with BILLING=stars nothing could be bought",
                );
                return None;
            }
            Some(Billing::Stars {
                prices: Prices {
                    training: training.transpose()?,
                    image: image?,
                    upscale: upscale?,
                },
                packs,
                terms: terms?,
                support: support?,
            })
        }
        other => {
            env.reject("BILLING", format!("must be free or stars, got {other:?}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn access_and_the_spend_cap_default_safe_and_refuse_nonsense() {
        use crate::domain::{SpendCap, Usd};
        let l = env(&[]).load::<Limits>().unwrap();
        assert_eq!(l.access.audience, Audience::Everyone);
        assert_eq!(
            l.money.spend_cap,
            SpendCap::PerDay(Usd(20_000_000)),
            "on by default"
        );
        assert_eq!(l.money.costs.image, Usd(40_000));
        let test_mode = env(&[("AVATAR_TEST_MODE", "true")])
            .load::<Limits>()
            .unwrap();
        assert_eq!(
            test_mode.money.spend_cap,
            SpendCap::Off,
            "test mode spends nothing"
        );
        let private = env(&[
            ("BOT_ACCESS", "allow_list"),
            ("ALLOWED_USER_IDS", "12, 34"),
            ("SPEND_CAP_USD_PER_DAY", "off"),
        ])
        .load::<Limits>()
        .unwrap();
        assert!(private.access.admits(UserId(34)) && !private.access.admits(UserId(56)));
        assert_eq!(private.money.spend_cap, SpendCap::Off);
        for (name, value) in [
            ("BOT_ACCESS", "friends"),
            ("ALLOWED_USER_IDS", "12,abc"),
            ("ADMIN_USER_IDS", "-5"),
            ("SPEND_CAP_USD_PER_DAY", "0"),
            ("SPEND_CAP_USD_PER_DAY", "lots"),
            ("COST_IMAGE_USD", "-1"),
        ] {
            let err = env(&[(name, value)]).load::<Limits>().unwrap_err();
            assert!(
                err.issues.iter().any(|i| i.variable == name),
                "{name}={value}: {err}"
            );
        }
        let nobody = env(&[("BOT_ACCESS", "allow_list")])
            .load::<Limits>()
            .unwrap_err();
        assert_eq!(nobody.issues[0].variable, "ALLOWED_USER_IDS");
    }

    #[test]
    fn billing_is_free_by_default_and_stars_needs_packs_it_can_sell() {
        use crate::domain::{Billing, Credits, Pack};
        assert_eq!(
            env(&[]).load::<Limits>().unwrap().money.billing,
            Billing::Free
        );
        let stars = env(&[
            ("BILLING", "stars"),
            ("CREDIT_PACKS", " 10:50 , 30:140,10:50"),
            ("PRICE_IMAGE_CREDITS", "0"),
            ("TERMS_TEXT", "Mine"),
        ])
        .load::<Limits>()
        .unwrap()
        .money
        .billing;
        let Billing::Stars {
            prices,
            packs,
            terms,
            support,
        } = stars
        else {
            panic!("stars expected");
        };
        assert_eq!(
            packs,
            [
                Pack {
                    credits: Credits(10),
                    stars: 50
                },
                Pack {
                    credits: Credits(30),
                    stars: 140
                }
            ],
            "a repeated pack is listed once"
        );
        assert_eq!(prices.image, Credits(0));
        assert_eq!(prices.training.fast, Credits(50));
        assert_eq!((terms.as_deref(), support), (Some("Mine"), None));
        for (pairs, variable) in [
            (&[("BILLING", "paypal")][..], "BILLING"),
            (
                &[("BILLING", "stars"), ("CREDIT_PACKS", " , ")][..],
                "CREDIT_PACKS",
            ),
            (&[("CREDIT_PACKS", "10")][..], "CREDIT_PACKS"),
            (&[("CREDIT_PACKS", "0:50")][..], "CREDIT_PACKS"),
            (&[("CREDIT_PACKS", "10:20000")][..], "CREDIT_PACKS"),
            (&[("PRICE_IMAGE_CREDITS", "-1")][..], "PRICE_IMAGE_CREDITS"),
        ] {
            let err = env(pairs).load::<Limits>().unwrap_err();
            assert!(
                err.issues.iter().any(|i| i.variable == variable),
                "{pairs:?}: {err}"
            );
        }
    }
}
