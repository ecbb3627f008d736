//! The client: configuration, authentication, the request loop.

mod auth;
mod builder;
mod execute;
mod outcome;
mod retry;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sophic_client::ResponseValue;

pub use builder::{ClientBuilder, ClientCredentials, PRODUCTION_URL};
pub(crate) use execute::Attempt;
pub use retry::RetryPolicy;
pub(crate) use retry::Safety;

use crate::accounts::AccountHandler;
use crate::events::EventsHandler;
use crate::instruments::InstrumentsHandler;
use crate::orders::OrdersHandler;
use crate::webhooks::WebhooksHandler;
use crate::{AccountId, Error, Result};

/// A client of Sophic's Orders API. Cheap to clone: clones share the connection pool,
/// the token and the configuration.
///
/// Calls are grouped by the API's nouns: [`Client::orders`], [`Client::account`],
/// [`Client::instruments`], [`Client::events`], [`Client::webhooks`].
///
/// ```no_run
/// # async fn run() -> sophic::Result<()> {
/// let client = sophic::Client::builder()
///     .base_url("http://127.0.0.1:8080")
///     .token("test_token")
///     .build()?;
/// let instruments = client.instruments().list().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// What this clone's calls override of the client's settings.
    settings: CallSettings,
}

/// The per-call `timeout` and `retry_policy` methods of a request builder or handler whose
/// client is at `self.<path>`.
macro_rules! call_settings {
    ($($field:ident).+) => {
        /// Limits each attempt of this call to `timeout`; see
        /// [`Client::with_timeout`](crate::Client::with_timeout).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.with_timeout(timeout);
            self
        }

        /// Retries this call by `policy` instead of the client's.
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.$($field).+ = self.$($field).+.with_retry_policy(policy);
            self
        }
    };
}
pub(crate) use call_settings;

/// Per-call overrides of a client's settings ([`Client::with_timeout`],
/// [`Client::with_retry_policy`], and the same methods of each request builder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallSettings {
    /// Each attempt's limit, over the client's request timeout.
    pub(crate) timeout: Option<Duration>,
    /// Instead of the client's policy.
    pub(crate) retry: Option<RetryPolicy>,
}

pub(crate) struct Inner {
    api: sophic_client::Client,
    base_url: String,
    credentials: builder::Credentials,
    tokens: Option<auth::TokenManager>,
    retry: RetryPolicy,
    wait: WaitDefaults,
    detect_duplicates: bool,
}

/// How waiting for an order polls, unless the wait says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitDefaults {
    pub(crate) poll_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) timeout: Duration,
}

impl Default for WaitDefaults {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5 * 60),
        }
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Orders of an account: place, retrieve, cancel, list, wait.
    pub fn orders(&self, account: &AccountId) -> OrdersHandler {
        OrdersHandler::new(self.clone(), account.clone())
    }

    /// An account's cash balances and positions (and its orders).
    pub fn account(&self, account: &AccountId) -> AccountHandler {
        AccountHandler::new(self.clone(), account.clone())
    }

    /// The instrument catalogue.
    pub fn instruments(&self) -> InstrumentsHandler {
        InstrumentsHandler::new(self.clone())
    }

    /// Events: one per order status change.
    pub fn events(&self) -> EventsHandler {
        EventsHandler::new(self.clone())
    }

    /// Webhook registration. (Verifying deliveries needs no client: see
    /// [`webhooks::Verifier`](crate::webhooks::Verifier).)
    pub fn webhooks(&self) -> WebhooksHandler {
        WebhooksHandler::new(self.clone())
    }

    /// This client with each attempt of its calls limited to `timeout` (an answer that
    /// has not arrived by then is [`Error::CallTimeout`], retried like a timeout). It can
    /// only shorten the client's request timeout
    /// ([`ClientBuilder::request_timeout`](crate::ClientBuilder::request_timeout)), which
    /// still bounds every attempt. Cheap: the clone shares everything else.
    ///
    /// ```no_run
    /// # async fn run(client: sophic::Client, order: sophic::OrderId, account: sophic::AccountId) -> sophic::Result<()> {
    /// use std::time::Duration;
    /// let quick = client.with_timeout(Duration::from_secs(2));
    /// let order = quick.orders(&account).get(&order).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        let mut client = self.clone();
        client.settings.timeout = Some(timeout);
        client
    }

    /// This client without per-call overrides: the settings it was built with.
    pub(crate) fn with_built_settings(&self) -> Client {
        let mut client = self.clone();
        client.settings = CallSettings::default();
        client
    }

    /// This client with `policy` instead of the client's retry policy for its calls.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Client {
        let mut client = self.clone();
        client.settings.retry = Some(policy);
        client
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The generated client underneath, for operations this crate does not wrap yet.
    /// Calls made through it carry the current token but get no retries or renewal.
    pub fn generated(&self) -> &sophic_client::Client {
        &self.inner.api
    }

    pub(crate) fn wait_defaults(&self) -> WaitDefaults {
        self.inner.wait
    }

    /// Sends one logical call through the request loop and returns the decoded answer
    /// (its status and headers have been recorded on the call's span by then).
    pub(crate) async fn send<T, F>(
        &self,
        operation: &'static str,
        safety: Safety,
        attempt: F,
    ) -> Result<T>
    where
        T: DeserializeOwned,
        F: for<'a> FnMut(&'a sophic_client::Client) -> Attempt<'a, T, sophic_client::types::Error>,
    {
        self.inner
            .run(
                &self.inner.api,
                operation,
                safety,
                true,
                &self.settings,
                attempt,
            )
            .await
            .map(ResponseValue::into_inner)
            .map_err(Error::from)
    }

    /// Sends a placement or cancellation whose every attempt carries the idempotency key
    /// `key`. A failure after an attempt that may have taken effect is returned as
    /// [`Error::OutcomeUnknown`], with the key and the number of attempts. On success,
    /// also when the first attempt that may have taken effect was sent, if the answer came
    /// from a later attempt that the service answered as new (not replayed for the key):
    /// a placement then looks for a twin.
    pub(crate) async fn send_write<T, F>(
        &self,
        operation: &'static str,
        key: &str,
        attempt: F,
    ) -> Result<(T, Option<tokio::time::Instant>)>
    where
        T: DeserializeOwned,
        F: for<'a> FnMut(&'a sophic_client::Client) -> Attempt<'a, T, sophic_client::types::Error>,
    {
        let (value, doubt) = self
            .inner
            .run_tracked(
                &self.inner.api,
                operation,
                Safety::Idempotent,
                true,
                &self.settings,
                attempt,
            )
            .await
            .map_err(|failed| failed.of_write(operation, key))?;
        let doubt = doubt.filter(|_| !execute::is_replayed(value.headers()));
        Ok((value.into_inner(), doubt))
    }

    /// Whether placements look for a twin after an attempt in doubt
    /// ([`ClientBuilder::detect_duplicate_placements`]).
    pub(crate) fn detects_duplicate_placements(&self) -> bool {
        self.inner.detect_duplicates
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("credentials", &self.inner.credentials)
            .field("retry", &self.inner.retry)
            .field("wait", &self.inner.wait)
            .finish_non_exhaustive()
    }
}
