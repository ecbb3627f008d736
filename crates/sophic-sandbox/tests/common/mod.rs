//! A sandbox on an ephemeral loopback port with a held clock, and a plain HTTP client:
//! the tests speak the wire exactly as any user's HTTP client would.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig, TestAccount};

/// A response: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `code` of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The `path`s of an error's `params`.
    pub fn param_paths(&self) -> Vec<&str> {
        self.body["params"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["path"].as_str()).collect())
            .unwrap_or_default()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Env {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub account: TestAccount,
}

impl Env {
    /// A held-clock sandbox and an account with 10,000.00 USD and 50 units of ins_xyz789.
    pub async fn new() -> Self {
        Self::with_account(AccountSpec::usd("10000.00").position("ins_xyz789", "50")).await
    }

    pub async fn with_account(spec: AccountSpec) -> Self {
        let sandbox = Sandbox::start(SandboxConfig::held())
            .await
            .expect("the sandbox starts");
        let account = sandbox.create_account(&spec).expect("a valid account");
        Self {
            sandbox,
            http: reqwest::Client::new(),
            account,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Answer {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_as(&self.account.token, path).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Answer {
        self.send(self.http.post(self.url(path)).bearer_auth(token).json(body))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_as(&self.account.token, path, body).await
    }

    pub fn orders_path(&self) -> String {
        format!("/accounts/{}/orders", self.account.id)
    }

    /// Places an order with this body.
    pub async fn place(&self, body: Value) -> Answer {
        self.post(&self.orders_path(), &body).await
    }

    pub async fn place_with_key(&self, key: &str, body: &Value) -> Answer {
        let request = self
            .http
            .post(self.url(&self.orders_path()))
            .bearer_auth(&self.account.token)
            .header("idempotency-key", key)
            .json(body);
        self.send(request).await
    }

    /// A buy of `cash` of `instrument`, which must be accepted.
    pub async fn buy(&self, instrument: &str, cash: &str) -> Value {
        let answer = self.place(buy(instrument, cash)).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.body
    }

    pub async fn sell(&self, instrument: &str, quantity: &str) -> Value {
        let answer = self.place(sell(instrument, quantity)).await;
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer.body
    }

    pub async fn order(&self, id: &str) -> Value {
        self.get(&format!("{}/{id}", self.orders_path())).await.body
    }

    pub async fn cancel(&self, id: &str) -> Answer {
        self.post(&format!("{}/{id}/cancel", self.orders_path()), &json!({}))
            .await
    }

    pub async fn orders(&self) -> Vec<Value> {
        self.get(&self.orders_path())
            .await
            .body
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The USD balance as (total, available, reserved).
    pub async fn usd(&self) -> (String, String, String) {
        self.balance("USD").await
    }

    pub async fn balance(&self, currency: &str) -> (String, String, String) {
        let balances = self
            .get(&format!("/accounts/{}/cash-balances", self.account.id))
            .await
            .body;
        let b = balances
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["currency"] == currency)
            .cloned()
            .unwrap_or(json!({"total": "0", "available": "0", "reserved": "0"}));
        let s = |k: &str| b[k].as_str().unwrap().to_string();
        (s("total"), s("available"), s("reserved"))
    }

    /// (quantity, available_quantity) of a position.
    pub async fn units(&self, instrument: &str) -> (String, String) {
        let positions = self
            .get(&format!("/accounts/{}/positions", self.account.id))
            .await
            .body;
        positions
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["instrument"]["id"] == instrument)
            .map(|p| {
                (
                    p["quantity"].as_str().unwrap().into(),
                    p["available_quantity"].as_str().unwrap().into(),
                )
            })
            .unwrap_or(("0".into(), "0".into()))
    }

    /// Advances the held clock by whole seconds.
    pub fn advance(&self, seconds: u64) -> usize {
        self.sandbox
            .advance(std::time::Duration::from_secs(seconds))
    }
}

pub fn buy(instrument: &str, cash: &str) -> Value {
    json!({"instrument": instrument, "order_type": "market", "side": "buy", "cash_amount": cash})
}

pub fn sell(instrument: &str, quantity: &str) -> Value {
    json!({"instrument": instrument, "order_type": "market", "side": "sell", "quantity": quantity})
}
