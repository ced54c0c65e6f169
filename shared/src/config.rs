//! Configuration from environment variables, validated once at cold start.
//!
//! Each function reads the sections it needs through one [`EnvReader`], which collects every
//! problem before failing, so an operator fixes a deployment in one round:
//!
//! ```no_run
//! # use fluxbot::config::*;
//! let (resources, telegram) = EnvReader::from_process()
//!     .load::<(Resources, TelegramSettings)>()
//!     .expect("configuration");
//! ```
//! Sections read all their variables before combining them, and a tuple of sections reads
//! every section before combining those, so one missing variable never hides the next.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use url::Url;

use crate::domain::UserId;
use crate::fal::hosts::ResultHosts;
use crate::fal::queue::Retention;
use crate::fal::webhook_token::WebhookKey;
use crate::ports::queue::QueueDelay;

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub variable: &'static str,
    pub problem: String,
}

/// Every problem found in the environment, named variable by variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration ({} problem{}):",
            self.issues.len(),
            if self.issues.len() == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, " {} {};", issue.variable, issue.problem)?;
        }
        Ok(())
    }
}

/// Reads variables from a source (the process environment, or a map in tests) and collects
/// problems. Values of secret variables never appear in a problem description.
pub struct EnvReader {
    vars: HashMap<String, String>,
    issues: Vec<ConfigIssue>,
}

impl EnvReader {
    pub fn from_process() -> Self {
        Self::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            issues: Vec::new(),
        }
    }

    /// Sets `name` to `value` unless the source already has a non-empty value for it.
    pub fn with_default(mut self, name: &str, value: &str) -> Self {
        if self.raw(name).is_none() {
            self.vars.insert(name.to_owned(), value.to_owned());
        }
        self
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn problem(&mut self, variable: &'static str, problem: impl Into<String>) {
        self.issues.push(ConfigIssue {
            variable,
            problem: problem.into(),
        });
    }

    /// A variable that must be set and parse.
    pub fn required<T: FromStr>(&mut self, name: &'static str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        match self.raw(name).map(|v| (v.to_owned(), v.parse::<T>())) {
            None => {
                self.problem(name, "is not set");
                None
            }
            Some((_, Ok(v))) => Some(v),
            Some((raw, Err(e))) => {
                self.problem(name, format!("is malformed ({e}): {raw:?}"));
                None
            }
        }
    }

    /// A variable with a default when unset.
    pub fn optional<T: FromStr>(&mut self, name: &'static str, default: T) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        if self.raw(name).is_none() {
            return Some(default);
        }
        self.required(name)
    }

    /// A variable that may be absent.
    pub fn maybe<T: FromStr>(&mut self, name: &'static str) -> Option<Option<T>>
    where
        T::Err: fmt::Display,
    {
        if self.raw(name).is_none() {
            return Some(None);
        }
        self.required(name).map(Some)
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), with a default when unset.
    pub fn flag(&mut self, name: &'static str, default: bool) -> Option<bool> {
        let parsed = match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => Some(default),
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no" | "off") => Some(false),
            Some(_) => None,
        };
        if parsed.is_none() {
            self.problem(name, "is malformed: expected true or false");
        }
        parsed
    }

    /// Whole seconds, at least `min`, with a default when unset.
    pub fn seconds(&mut self, name: &'static str, default: u64, min: u64) -> Option<Duration> {
        let secs: u64 = self.optional(name, default)?;
        if secs < min {
            self.problem(name, format!("must be at least {min} seconds, got {secs}"));
            return None;
        }
        Some(Duration::from_secs(secs))
    }

    /// A secret: must be set; its value is never echoed.
    pub fn secret(&mut self, name: &'static str) -> Option<SecretString> {
        match self.raw(name) {
            Some(v) => Some(SecretString::from(v.to_owned())),
            None => {
                self.problem(name, "is not set");
                None
            }
        }
    }

    /// A secret that may be absent.
    pub fn maybe_secret(&mut self, name: &'static str) -> Option<SecretString> {
        self.raw(name).map(|v| SecretString::from(v.to_owned()))
    }

    /// A URL without a trailing slash (clients append paths to it).
    pub fn url(&mut self, name: &'static str, default: &str) -> Option<Url> {
        let url: Url = self.optional(name, Url::parse(default).expect("default URLs are valid"))?;
        if !matches!(url.scheme(), "http" | "https") {
            self.problem(name, format!("must be an http(s) URL: {url}"));
            return None;
        }
        Some(url)
    }

    /// Reports a cross-variable problem found while combining a section.
    pub fn reject(&mut self, variable: &'static str, problem: impl Into<String>) {
        self.problem(variable, problem);
    }

    /// Reads a section (or a tuple of sections) and returns it, or every problem found.
    pub fn load<T: FromEnv>(mut self) -> Result<T, ConfigError> {
        let value = T::read(&mut self);
        match value {
            Some(v) if self.issues.is_empty() => Ok(v),
            _ => {
                if self.issues.is_empty() {
                    self.problem("configuration", "could not be read");
                }
                Err(ConfigError {
                    issues: self.issues,
                })
            }
        }
    }
}

/// A configuration section: reads all of its variables, reporting problems to the reader, and
/// returns `None` if any was missing or malformed.
pub trait FromEnv: Sized {
    fn read(env: &mut EnvReader) -> Option<Self>;
}

macro_rules! tuple_from_env {
    ($($name:ident),+) => {
        impl<$($name: FromEnv),+> FromEnv for ($($name,)+) {
            #[allow(non_snake_case)]
            fn read(env: &mut EnvReader) -> Option<Self> {
                // Every section is read before any `?`, so all problems are reported.
                $(let $name = $name::read(env);)+
                Some(($($name?,)+))
            }
        }
    };
}

tuple_from_env!(A, B);
tuple_from_env!(A, B, C);
tuple_from_env!(A, B, C, D);
tuple_from_env!(A, B, C, D, E);
tuple_from_env!(A, B, C, D, E, F);

/// How S3 encrypts objects at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// SSE-S3 (AES-256 with S3-managed keys).
    S3Managed,
    /// SSE-KMS, with a specific key or the account's default `aws/s3` key.
    Kms { key_id: Option<String> },
}

/// The AWS resources the functions share; names come from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Resources {
    pub table_name: String,
    pub launch_queue_url: String,
    pub bucket_name: String,
    /// Path-style S3 URLs, for emulators that cannot do virtual-hosted buckets.
    pub s3_force_path_style: bool,
    pub s3_encryption: ServerSideEncryption,
}

impl FromEnv for Resources {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let table_name = env.required("TABLE_NAME");
        let launch_queue_url = env.required::<Url>("LAUNCH_QUEUE_URL");
        let bucket_name = env.required("BUCKET_NAME");
        let s3_force_path_style = env.flag("S3_FORCE_PATH_STYLE", false);
        let sse: Option<String> = env.optional("S3_SSE", "AES256".to_owned());
        let kms_key: Option<Option<String>> = env.maybe("S3_SSE_KMS_KEY_ID");
        let s3_encryption = match (sse.as_deref(), kms_key) {
            (Some("AES256"), Some(None)) => Some(ServerSideEncryption::S3Managed),
            (Some("aws:kms"), Some(key_id)) => Some(ServerSideEncryption::Kms { key_id }),
            (Some("AES256"), Some(Some(_))) => {
                env.reject(
                    "S3_SSE_KMS_KEY_ID",
                    "is set but S3_SSE is AES256 (set S3_SSE=aws:kms)",
                );
                None
            }
            (Some(other), _) => {
                env.reject(
                    "S3_SSE",
                    format!("must be AES256 or aws:kms, got {other:?}"),
                );
                None
            }
            _ => None,
        };
        Some(Self {
            table_name: table_name?,
            launch_queue_url: launch_queue_url?.to_string(),
            bucket_name: bucket_name?,
            s3_force_path_style: s3_force_path_style?,
            s3_encryption: s3_encryption?,
        })
    }
}

/// The Bot API client's settings, needed by every function that talks to users.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub token: SecretString,
    /// `https://api.telegram.org`, a self-hosted Bot API server, or a fake in tests.
    pub api_url: Url,
}

impl FromEnv for TelegramSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let token = env.secret("TELEGRAM_TOKEN");
        let api_url = env.url("TELEGRAM_API_URL", Self::DEFAULT_API_URL);
        Some(Self {
            token: token?,
            api_url: api_url?,
        })
    }
}

impl TelegramSettings {
    pub const DEFAULT_API_URL: &'static str = "https://api.telegram.org";
}

/// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`; only the webhook needs it.
#[derive(Debug, Clone)]
pub struct WebhookSecret(SecretString);

impl FromEnv for WebhookSecret {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let secret = env.secret("TELEGRAM_WEBHOOK_SECRET")?;
        // Telegram accepts 1-256 characters of A-Z a-z 0-9 _ -; refuse anything it would reject.
        let value = secret.expose_secret();
        let well_formed = (1..=256).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            env.reject(
                "TELEGRAM_WEBHOOK_SECRET",
                "must be 1-256 characters of A-Z a-z 0-9 _ -",
            );
            return None;
        }
        Some(Self(secret))
    }
}

impl WebhookSecret {
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    /// Compares a presented token in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.expose_secret().as_bytes().ct_eq(presented).into()
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Whether fal.ai is really called.
#[derive(Debug, Clone)]
pub enum FalMode {
    Live {
        key: SecretString,
    },
    /// No fal.ai calls: trainings complete after `mock_training_duration` through the normal
    /// completion path.
    Test {
        mock_training_duration: QueueDelay,
        mock_generation_duration: QueueDelay,
    },
}

#[derive(Debug, Clone)]
pub struct FalSettings {
    pub mode: FalMode,
    pub queue_url: Url,
    /// fal's REST API (storage uploads, for the local runner).
    pub rest_url: Url,
    pub jwks_url: Url,
    /// In-flight items younger than this are left alone by the sweep.
    pub status_check_interval: Duration,
    /// Trainings older than this are cancelled and failed.
    pub training_timeout: Duration,
    /// Generations older than this are cancelled and failed.
    pub generation_timeout: Duration,
    /// Lifetime of the presigned archive URL handed to fal.ai; must outlive its queue.
    pub archive_url_ttl: Duration,
    /// Lifetime of the presigned URL of our LoRA copy handed to fal.ai with a generation
    /// (signed anew for every generation).
    pub model_url_ttl: Duration,
    /// How long fal.ai keeps retrying a webhook: a submit of unknown outcome is waited for
    /// this long past its timeout before it is failed.
    pub webhook_retry_window: Duration,
    /// Queued trainings and pending generations that could not be started within this are
    /// failed (and the user told).
    pub launch_timeout: Duration,
    /// Where result files may be fetched from.
    pub result_hosts: ResultHosts,
    /// What fal.ai is asked to keep of our requests.
    pub retention: Retention,
}

impl FromEnv for FalSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let test_mode = env.flag("AVATAR_TEST_MODE", false);
        let key = env.maybe_secret("FAL_KEY");
        let mock: Option<QueueDelay> = env.optional(
            "FAL_MOCK_TRAINING_DURATION",
            QueueDelay::from_secs(30).ok()?,
        );
        let mock_generation: Option<QueueDelay> = env.optional(
            "FAL_MOCK_GENERATION_DURATION",
            QueueDelay::from_secs(5).ok()?,
        );
        let queue_url = env.url("FAL_QUEUE_URL", Self::DEFAULT_QUEUE_URL);
        let jwks_url = env.url("FAL_JWKS_URL", Self::DEFAULT_JWKS_URL);
        let rest_url = env.url(
            "FAL_REST_URL",
            crate::fal::storage::FalStorage::DEFAULT_REST_URL,
        );
        let status_check_interval = env.seconds("FAL_STATUS_CHECK_INTERVAL", 120, 10);
        let training_timeout = env.seconds("FAL_TRAINING_TIMEOUT", 3 * 3600, 60);
        let generation_timeout = env.seconds("FAL_GENERATION_TIMEOUT", 600, 60);
        // S3 caps presigned URLs at 7 days.
        let archive_url_ttl = env.seconds("FAL_ARCHIVE_URL_TTL", 24 * 3600, 600);
        let model_url_ttl = env.seconds("FAL_MODEL_URL_TTL", 6 * 3600, 600);
        if model_url_ttl.is_some_and(|d| d > Duration::from_secs(7 * 24 * 3600)) {
            env.reject(
                "FAL_MODEL_URL_TTL",
                "must be at most 604800 seconds (7 days)",
            );
        }
        let webhook_retry_window = env.seconds("FAL_WEBHOOK_RETRY_WINDOW", 2 * 3600, 0);
        let launch_timeout = env.seconds("FAL_LAUNCH_TIMEOUT", 3600, 300);
        let result_hosts = env.optional(
            "FAL_RESULT_HOSTS",
            ResultHosts::DEFAULT.parse::<ResultHosts>().ok()?,
        );
        // fal's outputs must outlive its webhook retries and our sweep's copy of them.
        let object_expiration = env.seconds("FAL_OBJECT_EXPIRATION", 24 * 3600, 3 * 3600);
        let store_payloads = env.flag("FAL_STORE_PAYLOADS", false);
        if archive_url_ttl.is_some_and(|d| d > Duration::from_secs(7 * 24 * 3600)) {
            env.reject(
                "FAL_ARCHIVE_URL_TTL",
                "must be at most 604800 seconds (7 days, the S3 presigning limit)",
            );
        }
        let mode = match (test_mode?, key) {
            (true, _) => FalMode::Test {
                mock_training_duration: mock?,
                mock_generation_duration: mock_generation?,
            },
            (false, Some(key)) => FalMode::Live { key },
            (false, None) => {
                // Never fall back to test mode silently: that would look like a working bot.
                env.reject(
                    "FAL_KEY",
                    "is not set (set it, or set AVATAR_TEST_MODE=true to simulate trainings)",
                );
                return None;
            }
        };
        Some(Self {
            mode,
            queue_url: queue_url?,
            rest_url: rest_url?,
            jwks_url: jwks_url?,
            status_check_interval: status_check_interval?,
            training_timeout: training_timeout?,
            generation_timeout: generation_timeout?,
            archive_url_ttl: archive_url_ttl.filter(|d| d.as_secs() <= 7 * 24 * 3600)?,
            model_url_ttl: model_url_ttl.filter(|d| d.as_secs() <= 7 * 24 * 3600)?,
            webhook_retry_window: webhook_retry_window?,
            launch_timeout: launch_timeout?,
            result_hosts: result_hosts?,
            retention: Retention {
                object_expiration: object_expiration?,
                store_payloads: store_payloads?,
            },
        })
    }
}

impl FalSettings {
    pub const DEFAULT_QUEUE_URL: &'static str = "https://queue.fal.run";
    pub const DEFAULT_JWKS_URL: &'static str = "https://rest.alpha.fal.ai/.well-known/jwks.json";

    pub fn is_test_mode(&self) -> bool {
        matches!(self.mode, FalMode::Test { .. })
    }
}

/// fal.ai webhooks: where fal posts results and how our URLs are bound to our records.
#[derive(Debug, Clone)]
pub struct FalWebhooks {
    /// `FAL_WEBHOOK_URL`: the fal-webhook route, given to fal with each submit (the launch
    /// worker's). Without it, results are collected by the status sweep alone.
    pub url: Option<Url>,
    /// `FAL_WEBHOOK_SECRET`: signs the token in each webhook URL (the launch worker) and
    /// checks it (the fal-webhook function). Required with `FAL_WEBHOOK_URL`.
    pub key: Option<WebhookKey>,
    /// `FAL_WEBHOOK_USER_ID`: when set, webhooks whose signed `X-Fal-Webhook-User-Id` differs
    /// are refused (the operator's fal user id).
    pub user_id: Option<String>,
}

impl FromEnv for FalWebhooks {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let url: Option<Option<Url>> = env.maybe("FAL_WEBHOOK_URL");
        let key = match env.maybe_secret("FAL_WEBHOOK_SECRET").map(WebhookKey::new) {
            None => Some(None),
            Some(Ok(key)) => Some(Some(key)),
            Some(Err(problem)) => {
                env.reject("FAL_WEBHOOK_SECRET", problem);
                None
            }
        };
        let user_id: Option<Option<String>> = env.maybe("FAL_WEBHOOK_USER_ID");
        let (url, key) = (url?, key?);
        if url.is_some() && key.is_none() {
            env.reject(
                "FAL_WEBHOOK_SECRET",
                "is not set; it is required with FAL_WEBHOOK_URL (it binds each webhook URL to its record)",
            );
            return None;
        }
        Some(Self {
            url,
            key,
            user_id: user_id?,
        })
    }
}

/// The per-user limits: the rules that use them are in `domain::policy`.
pub use crate::domain::Limits;

impl FromEnv for Limits {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let min_photos_portrait = env.optional("PHOTOS_MIN_PORTRAIT", 10u32);
        let min_photos_style = env.optional("PHOTOS_MIN_STYLE", 5u32);
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
        let (access, admins) = read_access(env)?;
        let (spend_cap, costs) = read_spending(env)?;
        let billing = read_billing(env)?;
        let limits = Self {
            billing,
            access,
            admins,
            spend_cap,
            costs,
            min_photos_portrait: min_photos_portrait?,
            min_photos_style: min_photos_style?,
            max_photos: max_photos?,
            max_trainings_in_flight: max_trainings_in_flight?,
            max_generations_in_flight: max_generations_in_flight.filter(|n| *n > 0)?,
            generations_per_hour: generations_per_hour.filter(|n| *n > 0)?,
        };
        let smallest = limits.min_photos_portrait.min(limits.min_photos_style);
        if smallest == 0
            || limits.max_photos < limits.min_photos_portrait.max(limits.min_photos_style)
        {
            env.reject("PHOTOS_MAX", "must be at least PHOTOS_MIN_PORTRAIT and PHOTOS_MIN_STYLE, which must be at least 1");
            return None;
        }
        if limits.max_trainings_in_flight == 0 {
            env.reject("MAX_TRAININGS_PER_USER", "must be at least 1");
            return None;
        }
        Some(limits)
    }
}

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
fn read_access(
    env: &mut EnvReader,
) -> Option<(crate::domain::Access, std::collections::BTreeSet<UserId>)> {
    let mode: String = env.optional("BOT_ACCESS", "everyone".to_owned())?;
    let allowed = user_ids(env, "ALLOWED_USER_IDS");
    let admins = user_ids(env, "ADMIN_USER_IDS")?;
    let access = match mode.as_str() {
        "everyone" => crate::domain::Access::Everyone,
        "allow_list" => {
            let allowed = allowed?;
            if allowed.is_empty() && admins.is_empty() {
                env.reject(
                    "ALLOWED_USER_IDS",
                    "is empty: with BOT_ACCESS=allow_list nobody could use the bot",
                );
                return None;
            }
            crate::domain::Access::AllowList(allowed)
        }
        other => {
            env.reject(
                "BOT_ACCESS",
                format!("must be everyone or allow_list, not {other:?}"),
            );
            return None;
        }
    };
    Some((access, admins))
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
fn read_spending(env: &mut EnvReader) -> Option<(crate::domain::SpendCap, crate::domain::Costs)> {
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
    let costs = crate::domain::Costs {
        training_fast: usd(env, "COST_TRAINING_USD_FAST", "2")?,
        training_balanced: usd(env, "COST_TRAINING_USD_BALANCED", "4")?,
        training_quality: usd(env, "COST_TRAINING_USD_QUALITY", "6")?,
        image: usd(env, "COST_IMAGE_USD", "0.04")?,
    };
    Some((cap?, costs))
}

/// `BILLING` (`free` or `stars`), the prices in credits, the packs sold for Stars and the
/// operator's `/terms` and `/paysupport` texts.
fn read_billing(env: &mut EnvReader) -> Option<crate::domain::Billing> {
    use crate::domain::{Billing, Credits, Pack, Prices};
    let mode: String = env.optional("BILLING", "free".to_owned())?;
    let credits = |env: &mut EnvReader, name: &'static str, default: u64| {
        env.optional::<u64>(name, default).map(Credits)
    };
    // Every price is read before any `?`, so all problems are reported at once.
    let fast = credits(env, "PRICE_TRAINING_CREDITS_FAST", 50);
    let balanced = credits(env, "PRICE_TRAINING_CREDITS_BALANCED", 100);
    let quality = credits(env, "PRICE_TRAINING_CREDITS_QUALITY", 150);
    let image = credits(env, "PRICE_IMAGE_CREDITS", 1);
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
                    training_fast: fast?,
                    training_balanced: balanced?,
                    training_quality: quality?,
                    image: image?,
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

    const RESOURCES: &[(&str, &str)] = &[
        ("TABLE_NAME", "t"),
        ("LAUNCH_QUEUE_URL", "http://localhost:5000/123/launch"),
        ("BUCKET_NAME", "b"),
    ];

    #[test]
    fn one_error_names_every_missing_and_malformed_variable() {
        let err = env(&[
            ("TELEGRAM_API_URL", "not a url"),
            ("S3_FORCE_PATH_STYLE", "maybe"),
            ("FAL_TRAINING_TIMEOUT", "-3"),
        ])
        .load::<(Resources, TelegramSettings, FalSettings)>()
        .unwrap_err();
        let named: Vec<_> = err.issues.iter().map(|i| i.variable).collect();
        for var in [
            "TABLE_NAME",
            "LAUNCH_QUEUE_URL",
            "BUCKET_NAME",
            "S3_FORCE_PATH_STYLE",
            "TELEGRAM_TOKEN",
            "TELEGRAM_API_URL",
            "FAL_TRAINING_TIMEOUT",
            "FAL_KEY",
        ] {
            assert!(named.contains(&var), "{var} not reported in: {err}");
        }
        assert!(err.to_string().contains("TABLE_NAME is not set"));
    }

    #[test]
    fn secrets_never_print() {
        let secret = "123456:SUPER-SECRET-TOKEN";
        let telegram = env(&[("TELEGRAM_TOKEN", secret)])
            .load::<TelegramSettings>()
            .unwrap();
        assert!(!format!("{telegram:?}").contains("SUPER-SECRET"));
        let webhook =
            env(&[("TELEGRAM_WEBHOOK_SECRET", "has spaces SUPER-SECRET")]).load::<WebhookSecret>();
        assert!(!webhook.unwrap_err().to_string().contains("SUPER-SECRET"));
        let fal = env(&[("FAL_KEY", "key:SUPER-SECRET")])
            .load::<FalSettings>()
            .unwrap();
        assert!(!format!("{fal:?}").contains("SUPER-SECRET"));
    }

    #[test]
    fn missing_fal_key_is_an_error_not_test_mode() {
        let err = env(&[]).load::<FalSettings>().unwrap_err();
        assert_eq!(err.issues[0].variable, "FAL_KEY");
        let test = env(&[
            ("AVATAR_TEST_MODE", "true"),
            ("FAL_MOCK_TRAINING_DURATION", "5"),
        ])
        .load::<FalSettings>()
        .unwrap();
        assert!(
            matches!(test.mode, FalMode::Test { mock_training_duration, .. } if mock_training_duration.as_secs() == 5)
        );
        let too_long = env(&[
            ("AVATAR_TEST_MODE", "1"),
            ("FAL_MOCK_TRAINING_DURATION", "901"),
        ])
        .load::<FalSettings>();
        assert_eq!(
            too_long.unwrap_err().issues[0].variable,
            "FAL_MOCK_TRAINING_DURATION"
        );
    }

    #[test]
    fn defaults_apply() {
        let fal = env(&[("FAL_KEY", "k")]).load::<FalSettings>().unwrap();
        assert_eq!(fal.queue_url.as_str(), "https://queue.fal.run/");
        assert_eq!(fal.status_check_interval, Duration::from_secs(120));
        let resources = env(RESOURCES).load::<Resources>().unwrap();
        assert_eq!(resources.s3_encryption, ServerSideEncryption::S3Managed);
        assert!(!resources.s3_force_path_style);
        let limits = env(&[]).load::<Limits>().unwrap();
        assert_eq!(
            (
                limits.min_photos_portrait,
                limits.min_photos_style,
                limits.max_photos
            ),
            (10, 5, 20)
        );
    }

    #[test]
    fn access_and_the_spend_cap_default_safe_and_refuse_nonsense() {
        use crate::domain::{Access, SpendCap, Usd};
        let l = env(&[]).load::<Limits>().unwrap();
        assert_eq!(l.access, Access::Everyone);
        assert_eq!(
            l.spend_cap,
            SpendCap::PerDay(Usd(20_000_000)),
            "on by default"
        );
        assert_eq!(l.costs.image, Usd(40_000));
        let test_mode = env(&[("AVATAR_TEST_MODE", "true")])
            .load::<Limits>()
            .unwrap();
        assert_eq!(
            test_mode.spend_cap,
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
        assert!(private.admits(UserId(34)) && !private.admits(UserId(56)));
        assert_eq!(private.spend_cap, SpendCap::Off);
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
    fn kms_encryption_and_inconsistent_limits() {
        let mut pairs = RESOURCES.to_vec();
        pairs.push(("S3_SSE", "aws:kms"));
        pairs.push(("S3_SSE_KMS_KEY_ID", "alias/bot"));
        let r = env(&pairs).load::<Resources>().unwrap();
        assert_eq!(
            r.s3_encryption,
            ServerSideEncryption::Kms {
                key_id: Some("alias/bot".into())
            }
        );
        let err = env(&[("PHOTOS_MAX", "5")]).load::<Limits>().unwrap_err();
        assert_eq!(err.issues[0].variable, "PHOTOS_MAX");
    }

    #[test]
    fn webhook_secret_compares_exactly() {
        let secret = env(&[("TELEGRAM_WEBHOOK_SECRET", "abc_DEF-123")])
            .load::<WebhookSecret>()
            .unwrap();
        assert!(secret.matches(b"abc_DEF-123"));
        assert!(!secret.matches(b"abc_DEF-12"));
        assert!(!secret.matches(b"abc_DEF-1234"));
        assert!(!secret.matches(b""));
    }

    #[test]
    fn billing_is_free_by_default_and_stars_needs_packs_it_can_sell() {
        use crate::domain::{Billing, Credits, Pack};
        assert_eq!(env(&[]).load::<Limits>().unwrap().billing, Billing::Free);
        let stars = env(&[
            ("BILLING", "stars"),
            ("CREDIT_PACKS", " 10:50 , 30:140,10:50"),
            ("PRICE_IMAGE_CREDITS", "0"),
            ("TERMS_TEXT", "Mine"),
        ])
        .load::<Limits>()
        .unwrap()
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
        assert_eq!(prices.training_fast, Credits(50));
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
