//! Who may act: bearer tokens and the principals behind them, OAuth clients.

use chrono::{DateTime, Utc};
use foldhash::HashMap;

use crate::error::ApiError;

/// Who a token speaks for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    /// The token's owner: an account id (sandbox tokens) or an OAuth client id.
    pub id: String,
    /// The accounts it may act on.
    pub accounts: Vec<String>,
}

impl Principal {
    /// Whether the token may act on `account`.
    pub fn may_act_on(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }
}

#[derive(Clone, Debug)]
struct TokenRecord {
    principal: Principal,
    expires_at: Option<DateTime<Utc>>,
}

/// An OAuth client of the sandbox.
#[derive(Clone, Debug)]
pub struct OauthClient {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
    /// The accounts its tokens may act on.
    pub accounts: Vec<String>,
}

/// The live tokens and the registered OAuth clients.
#[derive(Debug, Default)]
pub(super) struct Credentials {
    tokens: HashMap<String, TokenRecord>,
    clients: HashMap<String, OauthClient>,
}

impl Credentials {
    /// Registers an OAuth client.
    pub(super) fn register(&mut self, client: OauthClient) {
        self.clients.insert(client.id.clone(), client);
    }

    /// The client with these credentials.
    pub(super) fn client(&self, id: &str, secret: &str) -> Option<&OauthClient> {
        self.clients.get(id).filter(|c| c.secret == secret)
    }

    /// Keeps `token` as speaking for `principal` until `expires_at`.
    pub(super) fn keep_token(
        &mut self,
        token: String,
        principal: Principal,
        expires_at: Option<DateTime<Utc>>,
    ) {
        self.tokens.insert(
            token,
            TokenRecord {
                principal,
                expires_at,
            },
        );
    }

    /// The principal behind a live token.
    pub(super) fn authenticate(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, ApiError> {
        let record = self
            .tokens
            .get(token)
            .ok_or_else(|| ApiError::not_authenticated("The bearer token is not valid."))?;
        if record.expires_at.is_some_and(|exp| exp <= now) {
            return Err(ApiError::not_authenticated(
                "The bearer token has expired; request a new one.",
            ));
        }
        Ok(record.principal.clone())
    }

    /// Whether `owner` (an account, or an OAuth client) hears `account`'s events: the
    /// account itself, and the clients scoped to it.
    pub(super) fn hears(&self, owner: &str, account: &str) -> bool {
        owner == account
            || self
                .clients
                .get(owner)
                .is_some_and(|c| c.accounts.iter().any(|a| a == account))
    }
}
