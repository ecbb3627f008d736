//! Tokens from client credentials: fetched on first use, renewed before they expire, and
//! renewed once more when the API answers 401.
//!
//! One renewal at a time (single flight): callers that find the token stale queue on an
//! async gate, and all but the first find it fresh once they get through, so a hundred
//! concurrent calls cause one token request.

use sophic_client::types::exhaustive;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use sophic_client::ClientState;
use sophic_client::types::{GrantType, TokenRequest};
use tokio::time::Instant;

use super::Inner;
use super::builder::ClientCredentials;
use super::retry::Safety;
use crate::Result;

/// Renew this long before expiry at most (less for very short-lived tokens).
const RENEWAL_MARGIN: Duration = Duration::from_secs(60);

pub(crate) struct TokenManager {
    /// The grant, built once: the generated types refuse what the spec does (an empty id
    /// or secret), so a client that builds can always send it.
    request: TokenRequest,
    /// A client without a token: the token endpoint takes credentials, not a bearer.
    token_api: sophic_client::Client,
    /// Shared with the main client: setting the token here sets it for every request.
    state: ClientState,
    lease: Mutex<Option<Lease>>,
    gate: tokio::sync::Mutex<()>,
}

/// The current token's generation (which renewals bump) and when to renew it.
#[derive(Debug, Clone, Copy)]
struct Lease {
    generation: u64,
    renew_at: Instant,
}

impl TokenManager {
    /// Fails when the credentials break the spec's `TokenRequest` (an empty id or secret).
    pub(crate) fn new(
        credentials: &ClientCredentials,
        token_api: sophic_client::Client,
        state: ClientState,
    ) -> Result<Self> {
        let refused = |field: &str, e: sophic_client::types::error::ConversionError| {
            crate::Error::invalid_input(format!("the client credentials' {field}: {e}"))
        };
        let request = TokenRequest::from(exhaustive::TokenRequest {
            client_id: credentials
                .client_id
                .as_str()
                .try_into()
                .map_err(|e| refused("client_id", e))?,
            client_secret: credentials
                .client_secret
                .expose_secret()
                .try_into()
                .map_err(|e| refused("client_secret", e))?,
            grant_type: GrantType::ClientCredentials,
            scope: credentials.scope.clone(),
        });
        Ok(Self {
            request,
            token_api,
            state,
            lease: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
        })
    }

    fn lease(&self) -> Option<Lease> {
        *self.lease.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation of the current token, if it is not due for renewal.
    fn fresh(&self) -> Option<u64> {
        self.lease()
            .filter(|lease| Instant::now() < lease.renew_at)
            .map(|lease| lease.generation)
    }
}

impl Inner {
    /// Makes sure a usable token is set, returning its generation (0 for static tokens).
    pub(crate) async fn ensure_token(&self) -> Result<u64> {
        let Some(tokens) = &self.tokens else {
            return Ok(0);
        };
        if let Some(generation) = tokens.fresh() {
            return Ok(generation);
        }
        let _turn = tokens.gate.lock().await;
        if let Some(generation) = tokens.fresh() {
            return Ok(generation);
        }
        self.fetch_token(tokens).await
    }

    /// Whether a 401 can be answered by renewing the token.
    pub(crate) fn can_renew(&self) -> bool {
        self.tokens.is_some()
    }

    /// Replaces the token of generation `rejected`, unless another caller already did.
    pub(crate) async fn renew_token(&self, rejected: u64) -> Result<u64> {
        let Some(tokens) = &self.tokens else {
            return Ok(0);
        };
        let _turn = tokens.gate.lock().await;
        if let Some(generation) = tokens.fresh().filter(|generation| *generation > rejected) {
            return Ok(generation);
        }
        self.fetch_token(tokens).await
    }

    /// Boxed: fetching a token runs the request loop, which itself ensures tokens.
    fn fetch_token<'a>(&'a self, tokens: &'a TokenManager) -> BoxFuture<'a, Result<u64>> {
        async move {
            let requested_at = Instant::now();
            let request = &tokens.request;
            let response = self
                .run(
                    &tokens.token_api,
                    sophic_client::Operation::CREATE_TOKEN.id,
                    Safety::Idempotent,
                    false,
                    &super::CallSettings::default(),
                    |api| api.create_token().body(request.clone()).send().boxed(),
                )
                .await?
                .into_inner();
            let lifetime = Duration::from_secs(response.expires_in.into());
            let margin = RENEWAL_MARGIN.min(lifetime / 2);
            tokens
                .state
                .set_token(Some(SecretString::from(response.access_token)));
            let generation = tokens.lease().map_or(1, |lease| lease.generation + 1);
            *tokens.lease.lock().unwrap_or_else(|e| e.into_inner()) = Some(Lease {
                generation,
                renew_at: requested_at + lifetime - margin,
            });
            tracing::debug!(
                generation,
                expires_in = response.expires_in,
                "sophic: new access token"
            );
            Ok(generation)
        }
        .boxed()
    }
}
