//! The operator's daily spend cap: what a training or a generation is estimated to cost at
//! fal.ai, and the UTC day it counts against. Pure values; the store adds a charge to its day
//! in the same transaction as the record that commits to the work, so concurrent requests of
//! all users on all function instances can never pass the cap together.

use std::fmt;
use std::time::Duration;

use super::avatar::PerPreset;
use super::{ImageCount, Preset, Timestamp, UpscaleFactor};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// An amount in US dollars, kept in millionths so a per-image estimate ($0.035) is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Usd(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dollar amount (like 20 or 0.035): {0:?}")]
pub struct InvalidUsd(pub String);

impl Usd {
    pub const MICROS: u64 = 1_000_000;

    pub fn micros(self) -> u64 {
        self.0
    }

    /// Parses `20`, `4.5` or `0.035` (at most six decimals, at most a million dollars).
    pub fn parse(s: &str) -> Result<Self, InvalidUsd> {
        let bad = || InvalidUsd(s.to_owned());
        let s = s.trim().trim_start_matches('$');
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        let (whole, frac) = match s.split_once('.') {
            // A point needs digits after it: "1." is a typo, not a dollar.
            Some((whole, frac)) if digits(frac) => (whole, frac),
            Some(_) => return Err(bad()),
            None => (s, ""),
        };
        if !digits(whole) || frac.len() > 6 {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        if whole > 1_000_000 {
            return Err(bad());
        }
        let frac_micros: u64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
        Ok(Usd(whole * Self::MICROS + frac_micros))
    }

    /// Every digit, as [`Usd::parse`] reads it back ("0.001000").
    pub fn to_string_exact(self) -> String {
        format!("{}.{:06}", self.0 / Self::MICROS, self.0 % Self::MICROS)
    }

    pub fn times(self, n: u64) -> Usd {
        Usd(self.0.saturating_mul(n))
    }
}

impl fmt::Display for Usd {
    /// Dollars and cents, rounded up (an estimate shown to an operator errs high).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.0.div_ceil(Self::MICROS / 100);
        write!(f, "${}.{:02}", cents / 100, cents % 100)
    }
}

/// A UTC calendar day, `2026-12-01`: the cap resets at midnight UTC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpendDay(String);

impl SpendDay {
    pub fn of(ts: Timestamp) -> Self {
        let day = chrono::DateTime::from_timestamp_millis(ts.0.div_euclid(DAY_MS) * DAY_MS)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "1970-01-01".to_owned());
        SpendDay(day)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How long from `now` until this day is over (the cap resets).
    pub fn ends_in(now: Timestamp) -> Duration {
        let next = (now.0.div_euclid(DAY_MS) + 1) * DAY_MS;
        Duration::from_millis(u64::try_from(next - now.0).unwrap_or(0))
    }
}

/// What fal.ai is estimated to charge, per training preset and per image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Costs {
    pub training: PerPreset<Usd>,
    pub image: Usd,
    /// The upscaler's price per megapixel of output.
    pub upscale_per_megapixel: Usd,
}

impl Costs {
    pub fn training(&self, preset: Preset) -> Usd {
        self.training.get(preset)
    }

    pub fn generation(&self, images: ImageCount) -> Usd {
        self.image.times(u64::from(images.get()))
    }

    /// A picture of `pixels` made `factor` times wider and taller, rounded up to the
    /// millionth of a dollar.
    pub fn upscale(&self, pixels: u64, factor: UpscaleFactor) -> Usd {
        let out = u128::from(pixels) * u128::from(factor.get()).pow(2);
        let micros = (u128::from(self.upscale_per_megapixel.micros()) * out).div_ceil(1_000_000);
        Usd(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

/// The global cap on estimated fal.ai spend per UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendCap {
    /// Explicitly switched off by the operator.
    Off,
    PerDay(Usd),
}

/// A charge to add to its day's spend together with the record that commits to the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub day: SpendDay,
    pub amount: Usd,
    /// The day's spend may not pass this.
    pub cap: Usd,
}

impl SpendCap {
    /// The charge for work of `amount` committed at `now`; `None` when there is no cap.
    pub fn charge(&self, amount: Usd, now: Timestamp) -> Option<Charge> {
        match self {
            SpendCap::Off => None,
            SpendCap::PerDay(cap) => Some(Charge {
                day: SpendDay::of(now),
                amount,
                cap: *cap,
            }),
        }
    }
}

impl Charge {
    /// Whether adding this charge to `spent` stays within the cap.
    pub fn fits(&self, spent: Usd) -> bool {
        spent.0.saturating_add(self.amount.0) <= self.cap.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_parse_exactly_and_show_rounded_up() {
        assert_eq!(Usd::parse("20"), Ok(Usd(20_000_000)));
        assert_eq!(Usd::parse("0.035"), Ok(Usd(35_000)));
        assert_eq!(Usd::parse("$4.5"), Ok(Usd(4_500_000)));
        for bad in ["", "-1", "1.", ".5", "1.0000001", "2e3", "abc", "1000001"] {
            assert!(Usd::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Usd(35_000).to_string(), "$0.04");
        assert_eq!(Usd(20_000_000).to_string(), "$20.00");
    }

    #[test]
    fn days_are_utc_and_end_at_midnight() {
        // 2026-12-01T23:59:00Z
        let late = Timestamp(1_796_169_540_000);
        assert_eq!(SpendDay::of(late).as_str(), "2026-12-01");
        assert_eq!(SpendDay::ends_in(late), Duration::from_secs(60));
        assert_eq!(
            SpendDay::of(late.plus(Duration::from_secs(61))).as_str(),
            "2026-12-02"
        );
    }

    #[test]
    fn a_charge_fits_up_to_the_cap_exactly() {
        let cap = SpendCap::PerDay(Usd(10));
        let c = cap.charge(Usd(4), Timestamp(0)).unwrap();
        assert!(c.fits(Usd(6)));
        assert!(!c.fits(Usd(7)));
        assert_eq!(SpendCap::Off.charge(Usd(4), Timestamp(0)), None);
    }
}
