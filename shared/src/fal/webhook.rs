//! fal.ai webhook authentication, exactly as fal specifies it, checked before the body is
//! parsed:
//!
//! 1. the four headers `X-Fal-Webhook-Request-Id`, `-User-Id`, `-Timestamp` (unix seconds) and
//!    `-Signature` (hex) must all be present;
//! 2. the timestamp must be within 300 s of now;
//! 3. the signed message is `request_id \n user_id \n timestamp \n hex(sha256(raw body))`;
//! 4. the signature must verify (Ed25519) under one of the keys of fal's JWKS.
//!
//! The JWKS is fetched once per cold start and kept for at most 24 h; a signature no cached
//! key verifies triggers one refresh (at most one a minute), so a key rotation costs nothing.

use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;
use url::Url;

use crate::domain::Timestamp;

pub const HEADER_REQUEST_ID: &str = "x-fal-webhook-request-id";
pub const HEADER_USER_ID: &str = "x-fal-webhook-user-id";
pub const HEADER_TIMESTAMP: &str = "x-fal-webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "x-fal-webhook-signature";
/// How far the timestamp may be from now, either way.
pub const MAX_SKEW_SECS: i64 = 300;
const JWKS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("the timestamp header is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is {skew_secs} s away from now (at most {MAX_SKEW_SECS} allowed)")]
    Stale { skew_secs: i64 },
    #[error("the signature is not 64 hex-encoded bytes")]
    BadSignatureEncoding,
    #[error("no fal.ai key verifies the signature")]
    NoKeyMatched,
    #[error("fal.ai's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl SignatureError {
    /// Our problem, not the caller's: the request may be genuine.
    pub fn is_ours(&self) -> bool {
        matches!(self, SignatureError::KeysUnavailable(_))
    }
}

/// The signed headers of one webhook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub request_id: String,
    pub user_id: String,
    pub timestamp: i64,
    signature: [u8; 64],
}

impl SignedHeaders {
    pub fn from_headers(headers: &HeaderMap, now: Timestamp) -> Result<Self, SignatureError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(SignatureError::MissingHeader(name))
        };
        let request_id = get(HEADER_REQUEST_ID)?.to_owned();
        let user_id = get(HEADER_USER_ID)?.to_owned();
        let timestamp_raw = get(HEADER_TIMESTAMP)?;
        let signature_hex = get(HEADER_SIGNATURE)?;
        let timestamp: i64 = timestamp_raw
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        // Checked: a hostile timestamp near i64::MIN would overflow a plain difference.
        let skew_secs = now
            .as_secs()
            .checked_sub(timestamp)
            .and_then(i64::checked_abs)
            .unwrap_or(i64::MAX);
        if skew_secs > MAX_SKEW_SECS {
            return Err(SignatureError::Stale { skew_secs });
        }
        let signature: [u8; 64] = hex::decode(signature_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::BadSignatureEncoding)?;
        Ok(Self {
            request_id,
            user_id,
            timestamp,
            signature,
        })
    }

    /// The bytes fal signed for this body.
    pub fn message(&self, body: &[u8]) -> Vec<u8> {
        signed_message(&self.request_id, &self.user_id, self.timestamp, body)
    }
}

/// `request_id\nuser_id\ntimestamp\nhex(sha256(body))`, as UTF-8.
pub fn signed_message(request_id: &str, user_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    format!(
        "{request_id}\n{user_id}\n{timestamp}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// fal's public keys.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<VerifyingKey>,
}

impl Jwks {
    /// Parses `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"<base64url>"},...]}`, keeping the
    /// Ed25519 keys and skipping anything else.
    pub fn parse(json: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<Value>,
        }
        let raw: Raw = serde_json::from_str(json).map_err(|e| format!("not a JWKS: {e}"))?;
        let keys: Vec<VerifyingKey> = raw
            .keys
            .iter()
            .filter(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519")
            .filter_map(|k| k["x"].as_str())
            .filter_map(|x| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(x.trim_end_matches('='))
                    .ok()
            })
            .filter_map(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .filter_map(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .collect();
        if keys.is_empty() {
            return Err("the JWKS has no Ed25519 key".into());
        }
        Ok(Self { keys })
    }

    pub fn verifies(&self, headers: &SignedHeaders, body: &[u8]) -> bool {
        let message = headers.message(body);
        let signature = Signature::from_bytes(&headers.signature);
        self.keys
            .iter()
            .any(|key| key.verify_strict(&message, &signature).is_ok())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

struct Cached {
    jwks: Jwks,
    fetched: Instant,
}

/// The JWKS, fetched lazily and cached for the life of the process (at most 24 h).
pub struct WebhookVerifier {
    http: reqwest::Client,
    url: Url,
    cached: RwLock<Option<Cached>>,
}

impl WebhookVerifier {
    pub fn new(jwks_url: Url) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a rustls client with timeouts always builds");
        Self {
            http,
            url: jwks_url,
            cached: RwLock::new(None),
        }
    }

    pub fn jwks_url(&self) -> &Url {
        &self.url
    }

    /// Checks a webhook call. `Ok` carries the signed request id.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: Timestamp,
    ) -> Result<SignedHeaders, SignatureError> {
        let signed = SignedHeaders::from_headers(headers, now)?;
        let fresh_enough = {
            let cached = self.cached.read().await;
            match cached.as_ref() {
                Some(c) if c.fetched.elapsed() < JWKS_MAX_AGE => {
                    if c.jwks.verifies(&signed, body) {
                        return Ok(signed);
                    }
                    // Unknown key: refresh, unless we just did.
                    c.fetched.elapsed() < REFRESH_AT_MOST_EVERY
                }
                _ => false,
            }
        };
        if fresh_enough {
            return Err(SignatureError::NoKeyMatched);
        }
        let jwks = self.refresh().await?;
        if jwks.verifies(&signed, body) {
            Ok(signed)
        } else {
            Err(SignatureError::NoKeyMatched)
        }
    }

    /// How many keys are cached, fetching them only when none are fresh (the health check).
    pub async fn keys(&self) -> Result<usize, SignatureError> {
        if let Some(c) = self.cached.read().await.as_ref()
            && c.fetched.elapsed() < JWKS_MAX_AGE
        {
            return Ok(c.jwks.len());
        }
        Ok(self.refresh().await?.len())
    }

    /// Fetches the JWKS now.
    pub async fn refresh(&self) -> Result<Jwks, SignatureError> {
        let unavailable = |e: String| SignatureError::KeysUnavailable(e);
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let jwks = Jwks::parse(&text).map_err(unavailable)?;
        tracing::info!(keys = jwks.len(), "fal.ai webhook keys fetched");
        *self.cached.write().await = Some(Cached {
            jwks: jwks.clone(),
            fetched: Instant::now(),
        });
        Ok(jwks)
    }
}

/// A fal.ai webhook body, once authenticated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookBody {
    pub request_id: String,
    #[serde(default)]
    pub gateway_request_id: Option<String>,
    pub status: WebhookStatus,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub payload_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum WebhookStatus {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ERROR")]
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use reqwest::header::HeaderValue;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn jwks_json(keys: &[&SigningKey]) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "k",
                    "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.verifying_key().as_bytes())})
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn headers(key: &SigningKey, ts: i64, body: &[u8]) -> HeaderMap {
        let message = signed_message("req-1", "user-9", ts, body);
        let signature = hex::encode(key.sign(&message).to_bytes());
        let mut h = HeaderMap::new();
        h.insert(HEADER_REQUEST_ID, HeaderValue::from_static("req-1"));
        h.insert(HEADER_USER_ID, HeaderValue::from_static("user-9"));
        h.insert(
            HEADER_TIMESTAMP,
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert(HEADER_SIGNATURE, HeaderValue::from_str(&signature).unwrap());
        h
    }

    #[test]
    fn message_layout_is_fals() {
        let m = signed_message("r", "u", 1700000000, b"{}");
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "r\nu\n1700000000\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn signatures_verify_only_under_the_right_key_and_body() {
        let (good, other) = (key(1), key(2));
        let jwks = Jwks::parse(&jwks_json(&[&other, &good])).unwrap();
        let now = Timestamp::from_secs(1_800_000_000);
        let body = br#"{"request_id":"req-1","status":"OK","payload":{}}"#;
        let h = headers(&good, now.as_secs() - 10, body);
        let signed = SignedHeaders::from_headers(&h, now).unwrap();
        assert!(jwks.verifies(&signed, body));
        assert!(!jwks.verifies(&signed, b"{\"request_id\":\"req-1\",\"status\":\"ERROR\"}"));
        let only_other = Jwks::parse(&jwks_json(&[&other])).unwrap();
        assert!(!only_other.verifies(&signed, body));
    }

    #[test]
    fn header_problems_are_named() {
        let now = Timestamp::from_secs(1_800_000_000);
        let body = b"{}";
        let good = headers(&key(1), now.as_secs(), body);
        for name in [
            HEADER_REQUEST_ID,
            HEADER_USER_ID,
            HEADER_TIMESTAMP,
            HEADER_SIGNATURE,
        ] {
            let mut h = good.clone();
            h.remove(name);
            assert_eq!(
                SignedHeaders::from_headers(&h, now),
                Err(SignatureError::MissingHeader(name))
            );
        }
        let stale = headers(&key(1), now.as_secs() - 301, body);
        assert_eq!(
            SignedHeaders::from_headers(&stale, now),
            Err(SignatureError::Stale { skew_secs: 301 })
        );
        let future = headers(&key(1), now.as_secs() + 300, body);
        assert!(
            SignedHeaders::from_headers(&future, now).is_ok(),
            "300 s is allowed"
        );
        let mut h = good.clone();
        h.insert(HEADER_SIGNATURE, HeaderValue::from_static("zz"));
        assert_eq!(
            SignedHeaders::from_headers(&h, now),
            Err(SignatureError::BadSignatureEncoding)
        );
        for hostile in ["-9223372036854775808", "9223372036854775807"] {
            let mut h = good.clone();
            h.insert(HEADER_TIMESTAMP, HeaderValue::from_static(hostile));
            assert!(matches!(
                SignedHeaders::from_headers(&h, now),
                Err(SignatureError::Stale { .. })
            ));
        }
        let mut h = good;
        h.insert(HEADER_TIMESTAMP, HeaderValue::from_static("yesterday"));
        assert_eq!(
            SignedHeaders::from_headers(&h, now),
            Err(SignatureError::BadTimestamp)
        );
    }

    #[test]
    fn jwks_without_ed25519_keys_is_refused() {
        assert!(Jwks::parse(r#"{"keys":[{"kty":"RSA","n":"abc","e":"AQAB"}]}"#).is_err());
        assert!(Jwks::parse("not json").is_err());
    }
}
