//! Registering webhooks and asking for test deliveries.

use futures::FutureExt as _;
use sophic_client::types::{CreateWebhookRequest, UpdateWebhookRequest, Webhook, WebhookDelivery};

use super::{WebhookError, WebhookSecret};
use crate::client::{Client, Safety};
use crate::{Error, Result, WebhookId};

/// Webhook registration; from [`Client::webhooks`].
#[derive(Debug, Clone)]
pub struct WebhooksHandler {
    client: Client,
}

/// A webhook just registered, with its signing secret (shown this once: store it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedWebhook {
    /// The webhook (its `secret` field taken out into [`CreatedWebhook::secret`]).
    pub webhook: Webhook,
    /// The signing secret, for a [`Verifier`](super::Verifier).
    pub secret: WebhookSecret,
}

impl WebhooksHandler {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Registers an endpoint. Takes the generated request or its builder:
    ///
    /// ```no_run
    /// use sophic::types::{CreateWebhookRequest, EventName};
    ///
    /// # async fn run(client: sophic::Client) -> sophic::Result<()> {
    /// let created = client
    ///     .webhooks()
    ///     .create(
    ///         CreateWebhookRequest::builder()
    ///             .url("https://example.com/sophic")
    ///             .enabled_events(vec![EventName::OrderSettled]),
    ///     )
    ///     .await?;
    /// println!("store this secret: {}", created.secret.expose_secret());
    /// # Ok(()) }
    /// ```
    ///
    /// Not retried after it may have reached the API (there is no idempotency key for it),
    /// only on refused connections and 429.
    pub async fn create<R>(&self, request: R) -> Result<CreatedWebhook>
    where
        R: TryInto<CreateWebhookRequest, Error: std::fmt::Display>,
    {
        let body = request
            .try_into()
            .map_err(|e| Error::invalid_input(format!("webhook: {e}")))?;
        let mut webhook = self
            .client
            .send(
                sophic_client::Operation::CREATE_WEBHOOK.id,
                Safety::NotIdempotent,
                |api| api.create_webhook().body(body.clone()).send().boxed(),
            )
            .await?;
        let secret = webhook
            .secret
            .take()
            .ok_or_else(|| {
                WebhookError::InvalidSecret("the API did not return the webhook's secret".into())
            })
            .and_then(|secret| WebhookSecret::new(&secret))?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// Changes a webhook's URL, description, events or disabled flag.
    pub async fn update<R>(&self, webhook: &WebhookId, request: R) -> Result<Webhook>
    where
        R: TryInto<UpdateWebhookRequest, Error: std::fmt::Display>,
    {
        let body = request
            .try_into()
            .map_err(|e| Error::invalid_input(format!("webhook update: {e}")))?;
        self.client
            .send(
                sophic_client::Operation::UPDATE_WEBHOOK.id,
                Safety::Idempotent,
                |api| {
                    api.update_webhook()
                        .webhook_id(webhook)
                        .body(body.clone())
                        .send()
                        .boxed()
                },
            )
            .await
    }

    /// Queues a signed test delivery (`webhook.test`) to the webhook's URL.
    pub async fn test(&self, webhook: &WebhookId) -> Result<WebhookDelivery> {
        self.client
            .send(
                sophic_client::Operation::TEST_WEBHOOK.id,
                Safety::NotIdempotent,
                |api| api.test_webhook().webhook_id(webhook).send().boxed(),
            )
            .await
    }
}
