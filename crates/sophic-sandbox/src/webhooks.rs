//! Webhooks: registrations, signed deliveries and their retries.
//!
//! Signing follows the Standard Webhooks scheme the contract chose: the key is the decoded
//! `whsec_` secret, the signed content is `{Webhook-Id}.{Webhook-Timestamp}.{body}` and the
//! header is `v1,<base64 HMAC-SHA256>`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use foldhash::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sophic_client::headers;
use sophic_client::types::exhaustive;
use sophic_client::types::{
    CreateWebhookRequest, ErrorParamCode, Event, EventName, UpdateWebhookRequest, Webhook,
    WebhookDelivery, WebhookDeliveryAttempt, WebhookDeliveryStatus,
};

use crate::error::ApiError;
use crate::ids::IdGen;

/// Waits before each retry: after attempt 1 fails, the next comes 5 s later, and so on.
const RETRY_AFTER: [i64; 7] = [5, 30, 120, 600, 1800, 3600, 10800];
/// Attempts before a delivery is marked failed.
pub const MAX_ATTEMPTS: u32 = RETRY_AFTER.len() as u32 + 1;
/// How long a receiver has to answer.
pub const RECEIVER_TIMEOUT: Duration = Duration::from_secs(15);

/// The `v1,<base64>` signature of a delivery.
pub fn sign(secret: &[u8], delivery_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(format!("{delivery_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[derive(Clone, Debug)]
struct Registration {
    owner: String,
    webhook: Webhook,
    key: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Pending {
    delivery: WebhookDelivery,
    /// The exact body sent on every attempt.
    body: String,
    in_flight: bool,
}

/// One attempt to make now.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The delivery (`Webhook-Id`).
    pub delivery_id: String,
    /// Where to POST.
    pub url: String,
    /// The HMAC key.
    pub key: Vec<u8>,
    /// The body.
    pub body: String,
    /// `Webhook-Attempt`, from 1.
    pub number: u32,
    /// `Event-Id`, absent on tests.
    pub event_id: Option<String>,
}

/// What came of an attempt.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer (connection refused, timeout, …).
    Failed(String),
}

/// Every registration and delivery.
#[derive(Debug)]
pub struct Deliveries {
    webhooks: BTreeMap<String, Registration>,
    pending: HashMap<String, Pending>,
    order: Vec<String>,
    /// Wakes the delivery worker; notified by [`Deliveries::queue`], the one place a
    /// delivery is created, so nothing else has to know when to wake it.
    wake: Arc<Notify>,
}

impl Default for Deliveries {
    fn default() -> Self {
        Self::waking(Arc::default())
    }
}

impl Deliveries {
    /// Deliveries that wake `worker` whenever one is queued. (That no webhook points at
    /// the sandbox itself is checked by the handlers, [`check_not_self`], and again when a
    /// delivery connects.)
    pub fn waking(worker: Arc<Notify>) -> Self {
        Self {
            webhooks: BTreeMap::new(),
            pending: HashMap::default(),
            order: Vec::new(),
            wake: worker,
        }
    }

    /// Registers a webhook; the answer carries its secret, this once.
    pub fn create(
        &mut self,
        owner: &str,
        request: &CreateWebhookRequest,
        ids: &mut IdGen,
        now: DateTime<Utc>,
    ) -> Result<Webhook, ApiError> {
        // Every field named, so a field the spec adds fails to compile here until decided.
        let exhaustive::CreateWebhookRequest {
            url,
            description,
            enabled_events,
        } = request.clone().into();
        check_url(&url, "body.url")?;
        let key = ids.secret_bytes::<32>().to_vec();
        let webhook = Webhook::from(exhaustive::Webhook {
            id: ids.next("wh"),
            url,
            description,
            enabled_events,
            disabled: false,
            secret: None,
            created_at: now,
            modified_at: now,
        });
        let mut shown = webhook.clone();
        shown.secret = Some(format!("whsec_{}", STANDARD.encode(&key)));
        self.webhooks.insert(
            webhook.id.clone(),
            Registration {
                owner: owner.into(),
                webhook,
                key,
            },
        );
        Ok(shown)
    }

    fn registration(&mut self, owner: &str, id: &str) -> Result<&mut Registration, ApiError> {
        self.webhooks
            .get_mut(id)
            .filter(|r| r.owner == owner)
            .ok_or_else(|| ApiError::not_found("webhook", id))
    }

    /// Changes a webhook's fields.
    pub fn update(
        &mut self,
        owner: &str,
        id: &str,
        request: &UpdateWebhookRequest,
        now: DateTime<Utc>,
    ) -> Result<Webhook, ApiError> {
        // Every field named, so a field the spec adds fails to compile here until decided.
        let exhaustive::UpdateWebhookRequest {
            url,
            description,
            enabled_events,
            disabled,
        } = request.clone().into();
        if let Some(url) = &url {
            check_url(url, "body.url")?;
        }
        let registration = self.registration(owner, id)?;
        let webhook = &mut registration.webhook;
        if let Some(url) = url {
            webhook.url = url;
        }
        if description.is_some() {
            webhook.description = description;
        }
        if !enabled_events.is_empty() {
            webhook.enabled_events = enabled_events;
        }
        if let Some(disabled) = disabled {
            webhook.disabled = disabled;
        }
        webhook.modified_at = now;
        Ok(webhook.clone())
    }

    /// Queues a test delivery (no event).
    pub fn test(
        &mut self,
        owner: &str,
        id: &str,
        ids: &mut IdGen,
        now: DateTime<Utc>,
    ) -> Result<WebhookDelivery, ApiError> {
        self.registration(owner, id)?;
        let delivery_id = ids.next("whd");
        let payload = json!({
            "id": format!("evt_test_{}", &delivery_id[4..]),
            "name": "webhook.test",
            "resource": {"id": id, "resource_type": "webhook"},
            "data": {},
            "created_at": now,
        });
        Ok(self.queue(id, None, payload, delivery_id, now))
    }

    /// Queues an event named `name` for every enabled webhook that listens to it and whose
    /// owner `is_owner` accepts. The event is built and serialized only when some webhook
    /// listens, and once.
    pub fn enqueue_event(
        &mut self,
        name: &EventName,
        event: impl FnOnce() -> Event,
        is_owner: impl Fn(&str) -> bool,
        ids: &mut IdGen,
        now: DateTime<Utc>,
    ) {
        let targets: Vec<String> = self
            .webhooks
            .values()
            .filter(|r| !r.webhook.disabled && listens_to(&r.webhook, name) && is_owner(&r.owner))
            .map(|r| r.webhook.id.clone())
            .collect();
        if targets.is_empty() {
            return;
        }
        let event = event();
        let payload = serde_json::to_value(&event).expect("an Event serializes");
        for webhook in targets {
            let payload = payload.clone();
            let delivery_id = ids.next("whd");
            self.queue(&webhook, Some(event.id.clone()), payload, delivery_id, now);
        }
    }

    fn queue(
        &mut self,
        webhook: &str,
        event: Option<String>,
        payload: Value,
        id: String,
        now: DateTime<Utc>,
    ) -> WebhookDelivery {
        let body = payload.to_string();
        let Value::Object(payload) = payload else {
            unreachable!("payloads are objects")
        };
        let delivery = WebhookDelivery::from(exhaustive::WebhookDelivery {
            id: id.clone(),
            webhook: webhook.into(),
            event,
            status: WebhookDeliveryStatus::Pending,
            payload,
            attempts: Vec::new(),
            succeeded_at: None,
            failed_at: None,
            next_attempt_at: Some(now),
            created_at: now,
            modified_at: now,
        });
        self.pending.insert(
            id.clone(),
            Pending {
                delivery: delivery.clone(),
                body,
                in_flight: false,
            },
        );
        self.order.push(id);
        self.wake.notify_one();
        delivery
    }

    /// The attempts due at `now`, marked in flight.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Attempt> {
        let mut attempts = Vec::new();
        for id in &self.order {
            let Some(p) = self.pending.get_mut(id) else {
                continue;
            };
            let due = p.delivery.next_attempt_at.is_some_and(|t| t <= now);
            if p.in_flight || !due {
                continue;
            }
            let Some(registration) = self.webhooks.get(&p.delivery.webhook) else {
                continue;
            };
            p.in_flight = true;
            p.delivery.status = WebhookDeliveryStatus::InProgress;
            attempts.push(Attempt {
                delivery_id: id.clone(),
                url: registration.webhook.url.clone(),
                key: registration.key.clone(),
                body: p.body.clone(),
                number: p.delivery.attempts.len() as u32 + 1,
                event_id: p.delivery.event.clone(),
            });
        }
        attempts
    }

    /// Records an attempt's outcome and schedules the retry, if any.
    pub fn record(
        &mut self,
        delivery_id: &str,
        started_at: DateTime<Utc>,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) {
        let Some(p) = self.pending.get_mut(delivery_id) else {
            return;
        };
        let d = &mut p.delivery;
        p.in_flight = false;
        let (status, error) = match &outcome {
            Outcome::Answered(s) => (Some(*s), None),
            Outcome::Failed(e) => (None, Some(e.clone())),
        };
        let number = d.attempts.len() as u32 + 1;
        d.attempts.push(WebhookDeliveryAttempt::from(
            exhaustive::WebhookDeliveryAttempt {
                attempt: number.try_into().expect("attempts count from 1"),
                started_at,
                response_status: status,
                error,
            },
        ));
        d.modified_at = now;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            d.status = WebhookDeliveryStatus::Succeeded;
            d.succeeded_at = Some(now);
            d.next_attempt_at = None;
        } else if number >= MAX_ATTEMPTS {
            d.status = WebhookDeliveryStatus::Failed;
            d.failed_at = Some(now);
            d.next_attempt_at = None;
        } else {
            d.status = WebhookDeliveryStatus::Pending;
            d.next_attempt_at = Some(now + TimeDelta::seconds(RETRY_AFTER[number as usize - 1]));
        }
    }

    /// Every delivery, oldest first.
    pub fn list(&self) -> Vec<WebhookDelivery> {
        self.order
            .iter()
            .filter_map(|id| self.pending.get(id))
            .map(|p| p.delivery.clone())
            .collect()
    }

    /// Forgets the deliveries that succeeded or failed for good before `cutoff`.
    pub fn forget_finished_before(&mut self, cutoff: DateTime<Utc>) {
        self.pending.retain(|_, p| {
            let finished = p.delivery.status.is_finished();
            !(finished && p.delivery.modified_at < cutoff)
        });
        let pending = &self.pending;
        self.order.retain(|id| pending.contains_key(id));
    }

    /// When the next retry is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.pending
            .values()
            .filter(|p| !p.in_flight)
            .filter_map(|p| p.delivery.next_attempt_at)
            .min()
    }
}

fn listens_to(webhook: &Webhook, name: &EventName) -> bool {
    webhook.enabled_events.is_empty() || webhook.enabled_events.contains(name)
}

/// Refuses a webhook URL that points at the sandbox itself (`own`), under any spelling of
/// its address. Checked by the handlers before the change is made: it depends on the port
/// the sandbox listens on now, which a state replayed on another port does not share (a
/// URL that is not one is left to [`Deliveries::create`] to refuse).
pub(crate) fn check_not_self(raw: &str, path: &str, own: SocketAddr) -> Result<(), ApiError> {
    match url::Url::parse(raw) {
        Ok(url) if points_at_self(&url, own) => Err(ApiError::param(
            path,
            ErrorParamCode::NotAllowed,
            format!("must not point at the sandbox itself (port {})", own.port()),
        )),
        _ => Ok(()),
    }
}

/// HTTPS to a host name (not an IP); loopback `http://` is allowed in the sandbox.
fn check_url(raw: &str, path: &str) -> Result<(), ApiError> {
    let invalid = |detail: &str| ApiError::param(path, ErrorParamCode::Invalid, detail.to_string());
    let url = url::Url::parse(raw).map_err(|_| invalid("must be an absolute URL"))?;
    let host = url.host().ok_or_else(|| invalid("must name a host"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match (url.scheme(), host) {
        ("http", _) if loopback => Ok(()),
        ("https", url::Host::Domain(_)) => Ok(()),
        ("https", _) if loopback => Ok(()),
        ("https", _) => Err(invalid("must name a host, not an IP address")),
        _ => Err(invalid(
            "must use https (the sandbox also accepts http://127.0.0.1, http://[::1] and http://localhost)",
        )),
    }
}

/// Whether a URL names the sandbox's listener without a look-up: any loopback or
/// unspecified address (`127.0.0.0/8`, `[::1]`, `0.0.0.0`, `[::]`, their `::ffff:` forms),
/// the listener's own address, or `localhost`, on the listener's port. A name that only
/// DNS can place is checked when a delivery connects ([`send`]).
fn points_at_self(url: &url::Url, own: SocketAddr) -> bool {
    if url.port_or_known_default() != Some(own.port()) {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_own_ip(IpAddr::V4(ip), own),
        Some(url::Host::Ipv6(ip)) => is_own_ip(IpAddr::V6(ip), own),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Whether an address (any port) is one the sandbox's listener answers on.
fn is_own_ip(ip: IpAddr, own: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (ip, own_ip) = (canonical(ip), canonical(own.ip()));
    ip.is_loopback() || ip.is_unspecified() || ip == own_ip
}

/// The addresses a delivery may connect to: its host's, resolved once, less any that is
/// the sandbox itself. The request is then pinned to exactly these (no second look-up a
/// rebinding DNS server could answer differently). Errors say why nothing is left.
async fn addresses(url: &url::Url, own: SocketAddr) -> Result<Vec<SocketAddr>, String> {
    if points_at_self(url, own) {
        return Err("refused: the URL points at the sandbox itself".into());
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err("the URL names no host".into());
    };
    resolve_allowed(
        host.trim_start_matches('[').trim_end_matches(']'),
        port,
        own,
    )
    .await
}

/// `host:port` resolved, less the sandbox's own addresses.
async fn resolve_allowed(
    host: &str,
    port: u16,
    own: SocketAddr,
) -> Result<Vec<SocketAddr>, String> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("could not resolve {host}: {e}"))?
        .collect();
    let allowed: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| !(a.port() == own.port() && is_own_ip(a.ip(), own)))
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "refused: {host} resolves to the sandbox itself ({resolved:?})"
        ));
    }
    Ok(allowed)
}

/// The client deliveries are sent with: no redirects followed (a receiver cannot bounce a
/// delivery onto the sandbox or elsewhere), no proxy from the environment. (A client per
/// pinned name costs a build per delivery to a name; deliveries are few.)
fn delivery_client(pinned: Option<(&str, &[SocketAddr])>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some((host, addrs)) = pinned {
        builder = builder.resolve_to_addrs(host, addrs);
    }
    builder
        .build()
        .map_err(|e| format!("no HTTP client for deliveries: {e}"))
}

/// POSTs one attempt, signed at `timestamp` (Unix seconds of the wall clock, contract
/// section 11), to the addresses [`addresses`] allows; never panics, whatever the
/// receiver does.
pub async fn send(
    http: &reqwest::Client,
    attempt: &Attempt,
    timestamp: i64,
    own: SocketAddr,
) -> Outcome {
    let Ok(url) = url::Url::parse(&attempt.url) else {
        return Outcome::Failed("the URL does not parse".into());
    };
    let addrs = match addresses(&url, own).await {
        Ok(addrs) => addrs,
        Err(why) => return Outcome::Failed(why),
    };
    // An IP literal connects where it says (checked above); a name is pinned to what was
    // checked, with a client of its own.
    let pinned;
    let http = match url.host() {
        Some(url::Host::Domain(name)) => match delivery_client(Some((name, &addrs))) {
            Ok(client) => {
                pinned = client;
                &pinned
            }
            Err(why) => return Outcome::Failed(why),
        },
        _ => http,
    };
    let signature = sign(&attempt.key, &attempt.delivery_id, timestamp, &attempt.body);
    let mut request = http
        .post(url)
        .timeout(RECEIVER_TIMEOUT)
        .header("content-type", "application/json")
        .header(headers::WEBHOOK_ID, &attempt.delivery_id)
        .header(headers::WEBHOOK_TIMESTAMP, timestamp.to_string())
        .header(headers::WEBHOOK_SIGNATURE, signature)
        .header(headers::WEBHOOK_ATTEMPT, attempt.number.to_string())
        .body(attempt.body.clone());
    if let Some(event) = &attempt.event_id {
        request = request.header(headers::EVENT_ID, event);
    }
    match request.send().await {
        Ok(response) => Outcome::Answered(response.status().as_u16()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Delivers whatever is due, whenever woken, until the sandbox stops.
pub async fn worker(shared: Arc<crate::Shared>) {
    // Without its safety settings no delivery is sent: the worker stops, loudly.
    let Ok(http) = delivery_client(None) else {
        tracing::error!("webhook deliveries are off: no HTTP client could be built");
        return;
    };
    loop {
        let now = shared.clock.now();
        let attempts = shared.due_attempts(now);
        for attempt in attempts {
            let shared = shared.clone();
            let http = http.clone();
            tokio::spawn(async move {
                let started_at = shared.clock.now();
                // Signed with the wall clock, not the sandbox's (which may be held at
                // 2026-03-12 or moved months ahead): a receiver checks it against its own.
                let signed_at = chrono::Utc::now().timestamp();
                let outcome = send(&http, &attempt, signed_at, shared.addr).await;
                let now = shared.clock.now();
                shared.commit(crate::state::Delivered {
                    delivery: attempt.delivery_id,
                    started_at,
                    outcome,
                    at: now,
                });
                shared.webhooks_changed.notify_waiters();
                shared.wake_webhooks.notify_one();
            });
        }
        tokio::select! {
            _ = shared.wake_webhooks.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = shared.shutdown.notified() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_resolves_to_the_sandbox_is_refused_at_connect() {
        let own = SocketAddr::from(([127, 0, 0, 1], 4010));
        let refused = resolve_allowed("localhost", 4010, own).await.unwrap_err();
        assert!(refused.contains("the sandbox itself"), "{refused}");
        let other_port = resolve_allowed("localhost", 4011, own).await.unwrap();
        assert!(other_port.iter().all(|a| a.port() == 4011));
    }

    #[test]
    fn every_loopback_spelling_is_the_sandbox_on_its_port() {
        let own = SocketAddr::from(([127, 0, 0, 1], 4010));
        let at = |url: &str| points_at_self(&url::Url::parse(url).unwrap(), own);
        for url in [
            "http://127.0.0.1:4010/x",
            "http://127.1.2.3:4010/x",
            "http://0x7f.1:4010/x",
            "http://[::1]:4010/x",
            "http://[::ffff:127.0.0.1]:4010/x",
            "http://0.0.0.0:4010/x",
            "http://[::]:4010/x",
            "http://localhost:4010/x",
        ] {
            assert!(at(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:4011/x",
            "https://example.com:4010/x",
            "http://127.0.0.1/x",
        ] {
            assert!(!at(url), "{url}");
        }
    }
}
