// The README's examples need the client; without it the crate docs say what is left.
#![cfg_attr(feature = "client", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "client"),
    doc = "The Sophic SDK without its HTTP client: typed ids, amounts, order requests, \
           the error type and webhook verification ([`webhooks`])."
)]
#![warn(missing_docs)]

mod amount;
#[cfg(feature = "client")]
mod client;
mod error;
mod ids;
#[cfg(feature = "client")]
mod pagination;
#[cfg(feature = "client")]
mod random;

pub mod accounts;
pub mod events;
pub mod instruments;
pub mod orders;
pub mod prelude;
pub mod webhooks;

/// The wire types, generated from the OpenAPI spec (`sophic-client`). The modules above
/// re-export the ones each noun needs.
pub use sophic_client::types;

/// The HTTP client crate the SDK sends requests with, for [`ClientBuilder::http_client`].
#[cfg(feature = "client")]
pub use reqwest;

pub use amount::{Amount, AmountError, Quantity};
#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder, ClientCredentials, PRODUCTION_URL, RetryPolicy};
pub use error::{ApiError, AuthError, Duplicate, Error, OutcomeUnknown, Result};
pub use ids::{
    AccountId, EventId, IdError, InstrumentId, OrderId, PositionId, TradeId, WebhookDeliveryId,
    WebhookId,
};
