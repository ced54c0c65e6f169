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

use crate::domain::{AttemptId, AvatarId, UserId, WorkKind, WorkRef};

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

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    fn token(&self, message: &str) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }
}

/// What one webhook URL is for: one attempt of one piece of paid work, submitted to
/// `endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRoute {
    pub work: WorkRef,
    pub attempt: AttemptId,
    pub endpoint: String,
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

/// The forms of route a webhook URL may carry: what we hand out now, and the two of the
/// first release (still arriving for work submitted before it was replaced).
enum Form {
    /// `kind`, `owner`, `avatar`, `work`, `attempt`, `endpoint`.
    V2,
    /// A training: `owner`, `avatar`, `attempt`, `endpoint`.
    V1Training,
    /// A generation, which had no attempts: `owner`, `avatar`, `generation`, `endpoint`.
    V1Generation,
}

impl WebhookRoute {
    /// What the token signs: every field, each on its own line, under a version prefix.
    fn message(&self, form: &Form) -> String {
        let WorkRef {
            kind,
            owner,
            avatar_id,
            id,
        } = self.work;
        let (attempt, endpoint) = (self.attempt, &self.endpoint);
        match form {
            Form::V2 => format!(
                "fluxbot-webhook/v2\n{kind}\n{owner}\n{avatar_id}\n{id}\n{attempt}\n{endpoint}"
            ),
            Form::V1Training => {
                format!("fluxbot-webhook/v1\ntraining\n{owner}\n{avatar_id}\n{attempt}\n{endpoint}")
            }
            Form::V1Generation => {
                format!("fluxbot-webhook/v1\ngeneration\n{owner}\n{avatar_id}\n{id}\n{endpoint}")
            }
        }
    }

    /// `base` with this route and its token in the query.
    pub fn url(&self, base: &Url, key: &WebhookKey) -> Url {
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("kind", self.work.kind.as_str())
            .append_pair("owner", &self.work.owner.to_string())
            .append_pair("avatar", &self.work.avatar_id.to_string())
            .append_pair("work", &self.work.id.to_string())
            .append_pair("attempt", &self.attempt.to_string())
            .append_pair("endpoint", &self.endpoint)
            .append_pair("token", &key.token(&self.message(&Form::V2)));
        url
    }

    /// The route a webhook call's query names, once its token verifies under `key`.
    pub fn verify(query: &str, key: &WebhookKey) -> Result<Self, TokenError> {
        let mut fields: [Option<String>; 8] = Default::default();
        const NAMES: [&str; 8] = [
            "kind",
            "owner",
            "avatar",
            "work",
            "attempt",
            "endpoint",
            "generation",
            "token",
        ];
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let Some(slot) = NAMES.iter().position(|n| *n == k) else {
                continue;
            };
            // A repeated parameter is ambiguous: which one did we sign?
            if fields[slot].replace(v.into_owned()).is_some() {
                return Err(TokenError::Malformed);
            }
        }
        let [
            kind,
            owner,
            avatar,
            work,
            attempt,
            endpoint,
            generation,
            token,
        ] = fields;
        let token = token.ok_or(TokenError::Missing)?;
        let malformed = |_| TokenError::Malformed;
        let owner = UserId(
            owner
                .ok_or(TokenError::Malformed)?
                .parse()
                .map_err(|_| TokenError::Malformed)?,
        );
        let avatar_id: AvatarId = avatar
            .ok_or(TokenError::Malformed)?
            .parse()
            .map_err(malformed)?;
        let endpoint = endpoint.ok_or(TokenError::Malformed)?;
        let (form, route) = match (kind, work, attempt, generation) {
            (Some(kind), Some(work), Some(attempt), None) => {
                let kind = WorkKind::parse(&kind).ok_or(TokenError::Malformed)?;
                let work = WorkRef {
                    kind,
                    owner,
                    avatar_id,
                    id: work.parse().map_err(malformed)?,
                };
                (Form::V2, (work, attempt.parse().map_err(malformed)?))
            }
            (None, None, Some(attempt), None) => (
                Form::V1Training,
                (
                    WorkRef::training(owner, avatar_id),
                    attempt.parse().map_err(malformed)?,
                ),
            ),
            (None, None, None, Some(generation)) => (
                Form::V1Generation,
                (
                    WorkRef::generation(owner, avatar_id, generation.parse().map_err(malformed)?),
                    AttemptId::LEGACY,
                ),
            ),
            _ => return Err(TokenError::Malformed),
        };
        let route = WebhookRoute {
            work: route.0,
            attempt: route.1,
            endpoint,
        };
        let presented = hex::decode(token).map_err(|_| TokenError::Invalid)?;
        key.mac(&route.message(&form))
            .verify_slice(&presented)
            .map_err(|_| TokenError::Invalid)?;
        Ok(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GenerationId;

    fn key(s: &str) -> WebhookKey {
        WebhookKey::new(SecretString::from(s.repeat(32))).unwrap()
    }

    fn base() -> Url {
        Url::parse("https://api.example/fal/webhook").unwrap()
    }

    fn routes() -> [WebhookRoute; 2] {
        let avatar = AvatarId::new();
        [
            WebhookRoute {
                work: WorkRef::training(UserId(42), avatar),
                attempt: AttemptId::new(),
                endpoint: "fal-ai/flux-lora-portrait-trainer".into(),
            },
            WebhookRoute {
                work: WorkRef::generation(UserId(-7), avatar, GenerationId::new()),
                attempt: AttemptId::new(),
                endpoint: "fal-ai/flux-lora".into(),
            },
        ]
    }

    #[test]
    fn urls_verify_only_under_their_key_and_unchanged() {
        for route in routes() {
            let url = route.url(&base(), &key("a"));
            let query = url.query().unwrap();
            assert_eq!(WebhookRoute::verify(query, &key("a")), Ok(route.clone()));
            assert_eq!(
                WebhookRoute::verify(query, &key("b")),
                Err(TokenError::Invalid)
            );
            // Another owner, or another kind, with the same token.
            let forged = query.replacen(&format!("owner={}", route.work.owner), "owner=1", 1);
            assert_eq!(
                WebhookRoute::verify(&forged, &key("a")),
                Err(TokenError::Invalid)
            );
            let other_kind = if route.work.kind == WorkKind::Training {
                query.replacen("kind=training", "kind=generation", 1)
            } else {
                query.replacen("kind=generation", "kind=training", 1)
            };
            assert_eq!(
                WebhookRoute::verify(&other_kind, &key("a")),
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

    /// URLs handed to fal before routes named the kind and the attempt of every work still
    /// verify, as the same work (a generation's attempt is the legacy one).
    #[test]
    fn urls_of_the_first_release_still_verify() {
        let k = key("a");
        let [training, generation] = routes();
        let v1 = |form: Form, route: &WebhookRoute, pairs: Vec<(&str, String)>| {
            let mut url = base();
            {
                let mut q = url.query_pairs_mut();
                for (name, value) in pairs {
                    q.append_pair(name, &value);
                }
                q.append_pair("token", &k.token(&route.message(&form)));
            }
            url.query().unwrap().to_owned()
        };
        let w = training.work;
        let query = v1(
            Form::V1Training,
            &training,
            vec![
                ("owner", w.owner.to_string()),
                ("avatar", w.avatar_id.to_string()),
                ("attempt", training.attempt.to_string()),
                ("endpoint", training.endpoint.clone()),
            ],
        );
        assert_eq!(WebhookRoute::verify(&query, &k), Ok(training));
        let legacy = WebhookRoute {
            attempt: AttemptId::LEGACY,
            ..generation
        };
        let w = legacy.work;
        let query = v1(
            Form::V1Generation,
            &legacy,
            vec![
                ("owner", w.owner.to_string()),
                ("avatar", w.avatar_id.to_string()),
                ("generation", w.id.to_string()),
                ("endpoint", legacy.endpoint.clone()),
            ],
        );
        assert_eq!(WebhookRoute::verify(&query, &k), Ok(legacy));
    }

    #[test]
    fn malformed_queries_are_refused() {
        let k = key("a");
        for q in [
            "",
            "token=00",
            "owner=x&avatar=y&attempt=z&endpoint=e&token=00",
            "owner=1&avatar=0192a3b4c5d67e8f90a1b2c3d4e5f607&token=00",
            "kind=upscale&owner=1&avatar=0192a3b4c5d67e8f90a1b2c3d4e5f607&work=0192a3b4c5d67e8f90a1b2c3d4e5f607&attempt=0192a3b4c5d67e8f90a1b2c3d4e5f607&endpoint=e&token=00",
        ] {
            assert!(WebhookRoute::verify(q, &k).is_err(), "{q}");
        }
        assert!(WebhookKey::new(SecretString::from("short")).is_err());
    }
}
