//! How the pipeline reaches fal.ai (live or test mode, URLs, timeouts, retention) and how
//! fal's webhooks reach it, read from the environment.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::hosts::ResultHosts;
use super::queue::Retention;
use super::webhook_token::WebhookKey;
use crate::config::{EnvReader, FromEnv};
use crate::ports::queue::QueueDelay;

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
#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
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
}
