//! Webhooks: verifying and parsing deliveries, and (with the `client` feature) registering
//! endpoints.
//!
//! Verification needs no HTTP client, so a receiver can depend on this crate with
//! `default-features = false`. A receiver:
//!
//! 1. keeps the secret shown once when the webhook was created ([`WebhookSecret`]);
//! 2. hands the raw body and headers of each POST to [`Verifier::verify`], which checks the
//!    `Webhook-Signature` (any `v1` entry may match, in constant time) and that
//!    `Webhook-Timestamp` is within five minutes of its clock;
//! 3. acts on the typed [`WebhookEvent`], answering 2xx within 15 seconds, and drops
//!    deliveries whose [`Delivery::id`] it has already handled (retries reuse the id).
//!
//! ```
//! use sophic::webhooks::{Verifier, WebhookEvent, WebhookSecret};
//!
//! fn receive(secret: &WebhookSecret, headers: &http::HeaderMap, body: &[u8]) -> Result<(), sophic::webhooks::WebhookError> {
//!     let delivery = Verifier::new(secret.clone()).verify(headers, body)?;
//!     match delivery.event {
//!         WebhookEvent::Order(event) => println!("{} is now {}", event.order.id, event.order.status),
//!         WebhookEvent::Test(_) => println!("test delivery {}", delivery.id),
//!         other => println!("ignoring {}", other.name()),
//!     }
//!     Ok(())
//! }
//! ```

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};

#[cfg(feature = "client")]
mod api;
mod event;
mod signature;

#[cfg(feature = "client")]
pub use api::{CreatedWebhook, WebhooksHandler};
pub use event::{OrderEvent, PositionEvent, UnknownEvent, WebhookEvent};
pub use signature::{
    DEFAULT_TOLERANCE, HEADER_ATTEMPT, HEADER_EVENT_ID, HEADER_ID, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, SignedHeaders, Verifier, WebhookSecret, sign,
};
pub use sophic_client::types::{
    CreateWebhookRequest, EventName, UpdateWebhookRequest, Webhook, WebhookDelivery,
};

/// A verified delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// `Webhook-Id`: the delivery's id (`whd_…`), the same on every retry.
    pub id: String,
    /// `Webhook-Timestamp`: when this attempt was signed.
    pub timestamp: DateTime<Utc>,
    /// `Webhook-Attempt`, when sent.
    pub attempt: Option<NonZeroU32>,
    /// The event delivered.
    pub event: WebhookEvent,
}

/// Why a delivery was refused. Answer such deliveries with a 4xx and do not act on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),

    /// `Webhook-Signature` is not a list of `version,signature` entries with a `v1` one.
    #[error("the `Webhook-Signature` header is malformed: {0}")]
    MalformedSignature(String),

    /// Another header (`Webhook-Timestamp`, `Webhook-Attempt`) is not in its format.
    #[error("the `{header}` header is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// No `v1` entry is the HMAC of this delivery under the secret: the body, id or
    /// timestamp was changed, or the delivery was signed with another secret.
    #[error("no signature in `Webhook-Signature` matches the delivery and the secret")]
    NoMatchingSignature,

    /// The timestamp is older than the tolerance allows: a replay, or a slow clock here.
    #[error("the delivery was signed at {timestamp}, more than {tolerance:?} before now ({now})")]
    TimestampTooOld {
        /// `Webhook-Timestamp`.
        timestamp: DateTime<Utc>,
        /// The receiver's clock.
        now: DateTime<Utc>,
        /// The tolerance applied.
        tolerance: Duration,
    },

    /// The timestamp is further in the future than the tolerance allows.
    #[error("the delivery was signed at {timestamp}, more than {tolerance:?} after now ({now})")]
    TimestampTooNew {
        /// `Webhook-Timestamp`.
        timestamp: DateTime<Utc>,
        /// The receiver's clock.
        now: DateTime<Utc>,
        /// The tolerance applied.
        tolerance: Duration,
    },

    /// The secret is not `whsec_` followed by the base64 of 32 bytes.
    #[error("the webhook secret is invalid: {0}")]
    InvalidSecret(String),

    /// The body is signed correctly but is not an event this SDK can read.
    #[error("the delivery's body is not a valid event: {0}")]
    InvalidPayload(String),
}
