//! Our own binding of a webhook URL to what we asked for.
//!
//! fal.ai signs every customer's webhooks with one key set, so a valid signature proves only
//! that fal sent the call, not that we asked for it: anyone with a fal account could have fal
//! deliver a signed result to our URL. So the URL we give fal names the record and attempt it
//! is for and carries `token = hex(HMAC-SHA256(FAL_WEBHOOK_SECRET, route))`; a call whose
//! token does not verify (compared in constant time) is refused before its body is read.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use url::Url;

use crate::domain::{AttemptId, AvatarId, GenerationId, UserId};

/// The stack's secret for webhook tokens (`FAL_WEBHOOK_SECRET`).
#[derive(Clone)]
pub struct WebhookKey(SecretString);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(..)")
    }
}

impl WebhookKey {
    /// Shorter secrets are refused at cold start.
    pub const MIN_LEN: usize = 32;

    pub fn new(secret: SecretString) -> Result<Self, String> {
        let len = secret.expose_secret().len();
        if len < Self::MIN_LEN {
            return Err(format!(
                "must be at least {} characters (has {len})",
                Self::MIN_LEN
            ));
        }
        Ok(Self(secret))
    }

    /// A key nobody knows, for a process that never hands out webhook URLs (test mode).
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(SecretString::from(hex::encode(bytes)))
    }

    fn mac(&self, route: &WebhookRoute) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(route.message().as_bytes());
        mac
    }

    fn token(&self, route: &WebhookRoute) -> String {
        hex::encode(self.mac(route).finalize().into_bytes())
    }
}

/// What one webhook URL is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRoute {
    /// One training attempt of an avatar, submitted to the trainer `endpoint`.
    Training {
        owner: UserId,
        avatar_id: AvatarId,
        attempt: AttemptId,
        endpoint: String,
    },
    /// One generation, submitted to `endpoint`.
    Generation {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        endpoint: String,
    },
}

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the webhook URL names no complete, well-formed route")]
    Malformed,
    #[error("the webhook URL carries no token")]
    Missing,
    #[error("the webhook token does not match the route")]
    Invalid,
}

impl WebhookRoute {
    /// What the token signs: every field, each on its own line, under a kind prefix.
    fn message(&self) -> String {
        match self {
            WebhookRoute::Training {
                owner,
                avatar_id,
                attempt,
                endpoint,
            } => {
                format!("fluxbot-webhook/v1\ntraining\n{owner}\n{avatar_id}\n{attempt}\n{endpoint}")
            }
            WebhookRoute::Generation {
                owner,
                avatar_id,
                generation_id,
                endpoint,
            } => format!(
                "fluxbot-webhook/v1\ngeneration\n{owner}\n{avatar_id}\n{generation_id}\n{endpoint}"
            ),
        }
    }

    /// `base` with this route and its token in the query.
    pub fn url(&self, base: &Url, key: &WebhookKey) -> Url {
        let mut url = base.clone();
        {
            let mut q = url.query_pairs_mut();
            match self {
                WebhookRoute::Training {
                    owner,
                    avatar_id,
                    attempt,
                    endpoint,
                } => {
                    q.append_pair("owner", &owner.to_string())
                        .append_pair("avatar", &avatar_id.to_string())
                        .append_pair("attempt", &attempt.to_string())
                        .append_pair("endpoint", endpoint);
                }
                WebhookRoute::Generation {
                    owner,
                    avatar_id,
                    generation_id,
                    endpoint,
                } => {
                    q.append_pair("owner", &owner.to_string())
                        .append_pair("avatar", &avatar_id.to_string())
                        .append_pair("generation", &generation_id.to_string())
                        .append_pair("endpoint", endpoint);
                }
            }
            q.append_pair("token", &key.token(self));
        }
        url
    }

    /// The route a webhook call's query names, once its token verifies under `key`.
    pub fn verify(query: &str, key: &WebhookKey) -> Result<Self, TokenError> {
        let mut owner = None;
        let mut avatar = None;
        let mut attempt = None;
        let mut endpoint = None;
        let mut generation = None;
        let mut token = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "owner" => &mut owner,
                "avatar" => &mut avatar,
                "attempt" => &mut attempt,
                "endpoint" => &mut endpoint,
                "generation" => &mut generation,
                "token" => &mut token,
                _ => continue,
            };
            // A repeated parameter is ambiguous: which one did we sign?
            if slot.replace(v.into_owned()).is_some() {
                return Err(TokenError::Malformed);
            }
        }
        let token = token.ok_or(TokenError::Missing)?;
        let owner = owner
            .and_then(|o| o.parse().ok())
            .map(UserId)
            .ok_or(TokenError::Malformed)?;
        let avatar_id = avatar
            .and_then(|a| a.parse().ok())
            .ok_or(TokenError::Malformed)?;
        let route = match (generation, attempt, endpoint) {
            (Some(g), None, Some(endpoint)) => WebhookRoute::Generation {
                owner,
                avatar_id,
                generation_id: g.parse().map_err(|_| TokenError::Malformed)?,
                endpoint,
            },
            (None, Some(a), Some(endpoint)) => WebhookRoute::Training {
                owner,
                avatar_id,
                attempt: a.parse().map_err(|_| TokenError::Malformed)?,
                endpoint,
            },
            _ => return Err(TokenError::Malformed),
        };
        let presented = hex::decode(token).map_err(|_| TokenError::Invalid)?;
        key.mac(&route)
            .verify_slice(&presented)
            .map_err(|_| TokenError::Invalid)?;
        Ok(route)
    }

    pub fn owner(&self) -> UserId {
        match self {
            WebhookRoute::Training { owner, .. } | WebhookRoute::Generation { owner, .. } => *owner,
        }
    }

    /// The model id the request was submitted to.
    pub fn endpoint(&self) -> &str {
        match self {
            WebhookRoute::Training { endpoint, .. } | WebhookRoute::Generation { endpoint, .. } => {
                endpoint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> WebhookKey {
        WebhookKey::new(SecretString::from(s.repeat(32))).unwrap()
    }

    fn base() -> Url {
        Url::parse("https://api.example/fal/webhook").unwrap()
    }

    #[test]
    fn urls_verify_only_under_their_key_and_unchanged() {
        let training = WebhookRoute::Training {
            owner: UserId(42),
            avatar_id: AvatarId::new(),
            attempt: AttemptId::new(),
            endpoint: "fal-ai/flux-lora-portrait-trainer".into(),
        };
        let generation = WebhookRoute::Generation {
            owner: UserId(-7),
            avatar_id: AvatarId::new(),
            generation_id: GenerationId::new(),
            endpoint: "fal-ai/flux-lora".into(),
        };
        for route in [training, generation] {
            let url = route.url(&base(), &key("a"));
            let query = url.query().unwrap();
            assert_eq!(WebhookRoute::verify(query, &key("a")), Ok(route.clone()));
            assert_eq!(
                WebhookRoute::verify(query, &key("b")),
                Err(TokenError::Invalid)
            );
            // Another owner with the same token.
            let forged = query.replacen(&format!("owner={}", route.owner()), "owner=1", 1);
            assert_eq!(
                WebhookRoute::verify(&forged, &key("a")),
                Err(TokenError::Invalid)
            );
            let without_token = query.split("&token=").next().unwrap();
            assert_eq!(
                WebhookRoute::verify(without_token, &key("a")),
                Err(TokenError::Missing)
            );
            assert_eq!(
                WebhookRoute::verify(&format!("{query}&owner=1"), &key("a")),
                Err(TokenError::Malformed)
            );
        }
    }

    #[test]
    fn malformed_queries_are_refused() {
        let k = key("a");
        for q in [
            "",
            "token=00",
            "owner=x&avatar=y&attempt=z&endpoint=e&token=00",
            "owner=1&avatar=0192a3b4c5d67e8f90a1b2c3d4e5f607&token=00",
        ] {
            assert!(WebhookRoute::verify(q, &k).is_err(), "{q}");
        }
        assert!(WebhookKey::new(SecretString::from("short")).is_err());
    }
}
