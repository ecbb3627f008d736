//! Signing and verifying deliveries (the Standard Webhooks scheme Sophic's header names follow).
//!
//! The signed content is `{Webhook-Id}.{Webhook-Timestamp}.{raw body}`; `Webhook-Signature`
//! holds space-separated `v1,<base64 HMAC-SHA256>` entries, several while a secret rotates.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use super::{Delivery, WebhookError, WebhookEvent};

/// `Webhook-Id`: the delivery id, stable across retries. Use it to drop duplicates.
pub const HEADER_ID: &str = sophic_client::headers::WEBHOOK_ID;
/// `Webhook-Timestamp`: when the attempt was signed, in Unix seconds.
pub const HEADER_TIMESTAMP: &str = sophic_client::headers::WEBHOOK_TIMESTAMP;
/// `Webhook-Signature`: `v1,<base64>` entries separated by spaces.
pub const HEADER_SIGNATURE: &str = sophic_client::headers::WEBHOOK_SIGNATURE;
/// `Webhook-Attempt`: the attempt's number, from 1.
pub const HEADER_ATTEMPT: &str = sophic_client::headers::WEBHOOK_ATTEMPT;
/// `Event-Id`: the event delivered; absent on test deliveries.
pub const HEADER_EVENT_ID: &str = sophic_client::headers::EVENT_ID;

const SECRET_PREFIX: &str = "whsec_";
const SECRET_LEN: usize = 32;
const SIGNATURE_LEN: usize = 32;
const VERSION: &str = "v1";

/// How far a delivery's timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

type HmacSha256 = Hmac<Sha256>;

/// A webhook's signing secret: `whsec_` followed by the base64 of 32 bytes.
///
/// The HMAC key is the decoded bytes. `Debug` never shows them.
#[derive(Clone)]
pub struct WebhookSecret {
    key: SecretSlice<u8>,
}

impl WebhookSecret {
    /// Parses `whsec_<base64 of 32 bytes>`, as shown once when the webhook is created.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let invalid = |reason: &str| WebhookError::InvalidSecret(reason.to_owned());
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| invalid("it does not start with `whsec_`"))?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| invalid("what follows `whsec_` is not base64"))?;
        if key.len() != SECRET_LEN {
            return Err(WebhookError::InvalidSecret(format!(
                "it holds {} bytes, not {SECRET_LEN}",
                key.len()
            )));
        }
        Ok(Self { key: key.into() })
    }

    /// A secret from its 32 key bytes (for tests and for servers that mint secrets).
    pub fn from_bytes(key: [u8; SECRET_LEN]) -> Self {
        Self {
            key: key.to_vec().into(),
        }
    }

    /// The secret in its `whsec_…` form. Handle the result as the secret it is.
    pub fn expose_secret(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(self.key.expose_secret()))
    }

    /// The `v1,<base64>` signature entry of one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("{VERSION},{}", BASE64.encode(tag))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(self.key.expose_secret())
            .expect("HMAC-SHA256 takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// This secret's tag for the delivery (computed once, then compared with every
    /// signature the header carries).
    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.mac(id, timestamp, body).finalize().into_bytes().into()
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookError;

    fn from_str(secret: &str) -> Result<Self, WebhookError> {
        Self::new(secret)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

/// The `Webhook-Signature` header value for one delivery: what Sophic sends, and what tests
/// (and `sophic webhooks verify`) need to produce a delivery a [`Verifier`] accepts.
///
/// ```
/// use sophic::webhooks::{sign, Verifier, WebhookSecret};
///
/// let secret = WebhookSecret::from_bytes([7; 32]);
/// let header = sign(&secret, "whd_1", 1_700_000_000, br#"{"name":"webhook.test"}"#);
/// assert!(header.starts_with("v1,"));
/// ```
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    secret.sign(id, timestamp, body)
}

/// The three signed headers of a delivery, borrowed from wherever the receiver keeps them.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    /// `Webhook-Id`.
    pub id: &'a str,
    /// `Webhook-Timestamp`, Unix seconds as text.
    pub timestamp: &'a str,
    /// `Webhook-Signature`.
    pub signature: &'a str,
}

impl<'a> SignedHeaders<'a> {
    /// Reads the three headers from an `http::HeaderMap` (what axum, hyper and reqwest use).
    pub fn from_header_map(headers: &'a http::HeaderMap) -> Result<Self, WebhookError> {
        Ok(Self {
            id: header(headers, HEADER_ID, "Webhook-Id")?,
            timestamp: header(headers, HEADER_TIMESTAMP, "Webhook-Timestamp")?,
            signature: header(headers, HEADER_SIGNATURE, "Webhook-Signature")?,
        })
    }
}

fn header<'a>(
    headers: &'a http::HeaderMap,
    name: &str,
    display: &'static str,
) -> Result<&'a str, WebhookError> {
    let value = headers
        .get(name)
        .ok_or(WebhookError::MissingHeader(display))?;
    value.to_str().map_err(|_| WebhookError::MalformedHeader {
        header: display,
        reason: "it is not visible ASCII".into(),
    })
}

/// Checks deliveries against one or more secrets (several while rotating on your side).
///
/// ```
/// use sophic::webhooks::{sign, SignedHeaders, Verifier, WebhookSecret};
/// use chrono::{TimeZone, Utc};
///
/// let secret = WebhookSecret::from_bytes([7; 32]);
/// let body = br#"{"id":"evt_test_1","name":"webhook.test","resource":{"id":"wh_1","resource_type":"webhook"},"data":{},"created_at":"2026-03-12T14:05:00Z"}"#;
/// let signature = sign(&secret, "whd_1", 1_773_324_300, body);
/// let headers = SignedHeaders { id: "whd_1", timestamp: "1773324300", signature: &signature };
///
/// let now = Utc.timestamp_opt(1_773_324_360, 0).unwrap();
/// let signed_at = Verifier::new(secret).verify_signature_at(headers, body, now)?;
/// assert_eq!(signed_at.timestamp(), 1_773_324_300);
/// # Ok::<(), sophic::webhooks::WebhookError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier for one secret, with the default five-minute tolerance.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts deliveries signed with `secret` (while moving to a new one).
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// How far the timestamp may be from now, either way (five minutes by default).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery against the system clock and parses its event.
    pub fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        self.verify_at(headers, body, Utc::now())
    }

    /// [`Verifier::verify`] with the clock given: for tests, and replays of stored deliveries.
    pub fn verify_at(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Delivery, WebhookError> {
        let signed = SignedHeaders::from_header_map(headers)?;
        let timestamp = self.verify_signature_at(signed, body, now)?;
        let attempt = match headers.get(HEADER_ATTEMPT) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| WebhookError::MalformedHeader {
                        header: "Webhook-Attempt",
                        reason: "expected a number from 1".into(),
                    })?,
            ),
        };
        Ok(Delivery {
            id: signed.id.to_owned(),
            timestamp,
            attempt,
            event: WebhookEvent::from_json(body)?,
        })
    }

    /// Checks the signature and the timestamp only, returning the timestamp: for receivers
    /// that parse the body themselves.
    pub fn verify_signature_at(
        &self,
        headers: SignedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, WebhookError> {
        let seconds: i64 =
            headers
                .timestamp
                .trim()
                .parse()
                .map_err(|_| WebhookError::MalformedHeader {
                    header: "Webhook-Timestamp",
                    reason: "expected Unix seconds".into(),
                })?;
        let timestamp =
            DateTime::from_timestamp(seconds, 0).ok_or_else(|| WebhookError::MalformedHeader {
                header: "Webhook-Timestamp",
                reason: "out of range".into(),
            })?;
        let signatures = parse_signature_header(headers.signature)?;
        // One HMAC per secret (not per secret and signature), compared in constant time.
        let matched = self.secrets.iter().any(|secret| {
            let tag = secret.tag(headers.id, seconds, body);
            signatures
                .iter()
                .any(|signature| bool::from(tag[..].ct_eq(signature.as_slice())))
        });
        if !matched {
            return Err(WebhookError::NoMatchingSignature);
        }
        self.check_timestamp(timestamp, now)?;
        Ok(timestamp)
    }

    fn check_timestamp(
        &self,
        timestamp: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let tolerance = chrono::Duration::from_std(self.tolerance).unwrap_or(chrono::Duration::MAX);
        if timestamp < now - tolerance {
            return Err(WebhookError::TimestampTooOld {
                timestamp,
                now,
                tolerance: self.tolerance,
            });
        }
        if timestamp > now + tolerance {
            return Err(WebhookError::TimestampTooNew {
                timestamp,
                now,
                tolerance: self.tolerance,
            });
        }
        Ok(())
    }
}

/// The decoded `v1` signatures of a header. Entries of other versions are skipped, so a
/// scheme added later does not break this receiver; anything else out of shape is refused.
fn parse_signature_header(header: &str) -> Result<Vec<Vec<u8>>, WebhookError> {
    let malformed = WebhookError::MalformedSignature;
    let mut signatures = Vec::new();
    for entry in header.split_ascii_whitespace() {
        let Some((version, encoded)) = entry.split_once(',') else {
            return Err(malformed(format!(
                "the entry `{entry}` is not `version,signature`"
            )));
        };
        if version.is_empty() || encoded.is_empty() {
            return Err(malformed(format!(
                "the entry `{entry}` is not `version,signature`"
            )));
        }
        if version != VERSION {
            continue;
        }
        let signature = BASE64
            .decode(encoded)
            .ok()
            .filter(|bytes| bytes.len() == SIGNATURE_LEN)
            .ok_or_else(|| malformed("a v1 signature is not the base64 of 32 bytes".into()))?;
        signatures.push(signature);
    }
    if signatures.is_empty() {
        return Err(malformed("no `v1,<base64>` entry".into()));
    }
    Ok(signatures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_round_trips_through_its_text_form() {
        let secret = WebhookSecret::from_bytes([42; 32]);
        let text = secret.expose_secret();
        assert!(text.starts_with("whsec_"));
        let parsed: WebhookSecret = text.parse().unwrap();
        assert_eq!(parsed.sign("a", 1, b"b"), secret.sign("a", 1, b"b"));
    }

    #[test]
    fn secrets_of_the_wrong_shape_are_refused() {
        assert!(matches!(
            WebhookSecret::new("sk_abc"),
            Err(WebhookError::InvalidSecret(_))
        ));
        assert!(matches!(
            WebhookSecret::new("whsec_not base64!"),
            Err(WebhookError::InvalidSecret(_))
        ));
        let short = format!("whsec_{}", BASE64.encode([1u8; 16]));
        let err = WebhookSecret::new(&short).unwrap_err();
        assert!(err.to_string().contains("16 bytes"), "{err}");
    }

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_vector() {
        // The reference vector's key is 24 bytes, shorter than the contract's 32, so it is
        // loaded past the length check: the construction is what this pins.
        let key = BASE64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let secret = WebhookSecret { key: key.into() };
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn unknown_signature_versions_are_skipped() {
        let sigs =
            parse_signature_header(&format!("v2,abc v1,{}", BASE64.encode([0u8; 32]))).unwrap();
        assert_eq!(sigs.len(), 1);
    }
}
