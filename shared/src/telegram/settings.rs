//! The Bot API client's settings and the webhook's secret, read from the environment.

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use url::Url;

use crate::config::{EnvReader, FromEnv};

/// The Bot API client's settings, needed by every function that talks to users.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub token: SecretString,
    /// `https://api.telegram.org`, a self-hosted Bot API server, or a fake in tests.
    pub api_url: Url,
    /// The bot's own messages a second, across every instance (`TELEGRAM_SENDS_PER_SECOND`;
    /// Telegram takes about 30).
    pub sends_per_second: u32,
}

impl FromEnv for TelegramSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let token = env.secret("TELEGRAM_TOKEN");
        let api_url = env.url("TELEGRAM_API_URL", Self::DEFAULT_API_URL);
        let sends_per_second = env.optional("TELEGRAM_SENDS_PER_SECOND", 25u32);
        if sends_per_second == Some(0) || sends_per_second.is_some_and(|n| n > 30) {
            env.reject("TELEGRAM_SENDS_PER_SECOND", "must be 1 to 30");
            return None;
        }
        Some(Self {
            token: token?,
            api_url: api_url?,
            sends_per_second: sends_per_second?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
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
}
