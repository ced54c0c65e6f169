//! Configuration from environment variables, validated once at cold start: the reader. Each
//! section lives beside what it configures and implements [`FromEnv`]: the AWS resources
//! (`adapters::aws::Resources`), Telegram's (`telegram::settings`), fal.ai's
//! (`fal::settings`, `fal::training`, `fal::generation`), the conversation's limits
//! (`bot::settings`).
//!
//! Each function reads the sections it needs through one [`EnvReader`], which collects every
//! problem before failing, so an operator fixes a deployment in one round:
//!
//! ```no_run
//! # use fluxbot::config::*;
//! # use fluxbot::adapters::aws::Resources;
//! # use fluxbot::telegram::settings::TelegramSettings;
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

use secrecy::SecretString;
use url::Url;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::aws::{Resources, ServerSideEncryption};
    use crate::domain::Limits;
    use crate::fal::settings::FalSettings;
    use crate::telegram::settings::{TelegramSettings, WebhookSecret};

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
                limits.quotas.min_photos_portrait,
                limits.quotas.min_photos_style,
                limits.quotas.max_photos
            ),
            (10, 5, 20)
        );
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
}
