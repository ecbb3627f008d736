//! The `sophic` SDK against the real sandbox over loopback: every capability a user relies
//! on, with the sandbox clock held still and moved by the test.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use sophic::orders::OrderRequest;
use sophic::types::{OrderSide, OrderStatus};
use sophic::webhooks::{Verifier, WebhookError, WebhookEvent, WebhookSecret};
use sophic::{AccountId, Amount, Client, InstrumentId, OrderId, Quantity, RetryPolicy};
use sophic_sandbox::{AccountSpec, FaultKind, FaultSpec, Sandbox, SandboxConfig, TestAccount};

mod support;
use support::receiver;

struct World {
    sandbox: Sandbox,
    account: TestAccount,
    client: Client,
}

impl World {
    async fn new(spec: AccountSpec) -> Self {
        let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
        let account = sandbox.create_account(&spec).unwrap();
        let client = Client::builder()
            .base_url(sandbox.base_url())
            .token(account.token.clone())
            .poll_interval(Duration::from_millis(5))
            .max_poll_interval(Duration::from_millis(20))
            .build()
            .unwrap();
        Self {
            sandbox,
            account,
            client,
        }
    }

    /// The orders of the account through a client that gives up after three quick
    /// attempts, for tests that outlast its retries.
    fn orders_with_three_attempts(&self) -> sophic::orders::OrdersHandler {
        let policy = RetryPolicy::default()
            .max_attempts(3)
            .initial_backoff(Duration::from_millis(1))
            .max_backoff(Duration::from_millis(5));
        Client::builder()
            .base_url(self.sandbox.base_url())
            .token(self.account.token.clone())
            .retry_policy(policy)
            .build()
            .unwrap()
            .orders(&self.account_id())
    }

    fn account_id(&self) -> AccountId {
        self.account.id.parse().unwrap()
    }

    fn orders(&self) -> sophic::orders::OrdersHandler {
        self.client.orders(&self.account_id())
    }

    /// A buy of `amount` of the Kenya bond.
    async fn buy(&self, amount: &str) -> sophic::Result<sophic::types::Order> {
        self.orders()
            .place(OrderRequest::buy(&kenya(), cash(amount)))
            .await
    }
}

fn kenya() -> InstrumentId {
    "ins_xyz789".parse().unwrap()
}

fn cash(value: &str) -> Amount {
    value.parse().unwrap()
}

fn id(order: &sophic::types::Order) -> OrderId {
    order.id.parse().unwrap()
}

#[tokio::test]
async fn a_buy_and_a_sell_are_placed_with_exact_amounts() {
    let world = World::new(AccountSpec::usd("1000.00").position("ins_xyz789", "20")).await;
    let buy = world.buy("100.00").await.unwrap();
    assert_eq!(
        (buy.side.clone(), buy.status.clone()),
        (OrderSide::Buy, OrderStatus::Placed)
    );
    assert_eq!(
        (
            buy.fees.to_string(),
            buy.net_cash_amount.unwrap().to_string()
        ),
        ("0.50".into(), "99.50".into())
    );
    let units: Quantity = "12.5".parse().unwrap();
    let sell = world
        .orders()
        .place(OrderRequest::sell(&kenya(), units))
        .await
        .unwrap();
    assert_eq!(sell.quantity.unwrap().to_string(), "12.5");
    assert!(sell.cash_amount.is_none());
}

#[test]
fn bad_amounts_and_ids_are_refused_before_anything_is_sent() {
    for bad in ["0", "-1.00", "abc", "", "1e3"] {
        assert!(
            bad.parse::<Amount>().is_err(),
            "{bad} is not a positive amount"
        );
        assert!(
            bad.parse::<Quantity>().is_err(),
            "{bad} is not a positive quantity"
        );
    }
    assert!(
        "ord_123".parse::<InstrumentId>().is_err(),
        "an order id is not an instrument id"
    );
    assert_eq!(cash("100.00").to_string(), "100.00", "the scale is kept");
}

#[tokio::test]
async fn a_refusal_carries_the_code_the_fields_and_the_request_id() {
    let world = World::new(AccountSpec::usd("50.00")).await;
    let err = world.buy("100.00").await.unwrap_err();
    assert!(err.is_insufficient_funds(), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let request_id = err.request_id().unwrap().to_string();
    assert!(request_id.starts_with("req_"));
    assert!(
        err.to_string().contains("insufficient_funds") && err.to_string().contains(&request_id),
        "{err}"
    );
    let err = world
        .orders()
        .place(OrderRequest::buy(
            &"ins_us3m_260312".parse().unwrap(),
            cash("5.00"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.params()[0].path, "body.cash_amount");
    assert_eq!(
        world.orders().list().stream().count().await,
        0,
        "refusals create nothing"
    );
}

#[tokio::test]
async fn lists_page_across_several_pages_with_their_filters_kept() {
    let world = World::new(AccountSpec::usd("10000.00").position("ins_xyz789", "100")).await;
    let mut buys = Vec::new();
    for _ in 0..7 {
        buys.push(
            world
                .orders()
                .place(OrderRequest::buy(&kenya(), cash("10.00")))
                .await
                .unwrap()
                .id,
        );
        world
            .orders()
            .place(OrderRequest::sell(&kenya(), "1".parse().unwrap()))
            .await
            .unwrap();
    }
    buys.reverse();
    let listed = placed_buys_two_a_page(&world).await;
    assert_eq!(
        listed, buys,
        "7 buys over 4 pages of 2, newest first, no sell"
    );
    let pending = world
        .orders()
        .list_pending()
        .page_size(3)
        .stream()
        .count()
        .await;
    assert_eq!(pending, 14);
    let events = world
        .client
        .events()
        .list()
        .page_size(5)
        .stream()
        .count()
        .await;
    assert_eq!(events, 14, "one order.placed per order");
    // The status filter is kept across pages too: a cancelled buy is no longer `placed`.
    world
        .orders()
        .cancel(&buys[0].parse::<OrderId>().unwrap())
        .await
        .unwrap();
    let still_placed = placed_buys_two_a_page(&world).await;
    assert_eq!(still_placed, buys[1..], "the cancelled buy is filtered out");
}

/// The ids of the account's `placed` buys, newest first, read two to a page.
async fn placed_buys_two_a_page(world: &World) -> Vec<String> {
    world
        .orders()
        .list()
        .side(OrderSide::Buy)
        .status(OrderStatus::Placed)
        .page_size(2)
        .stream()
        .map_ok(|o| o.id)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn waiting_follows_an_order_to_settlement_as_the_clock_moves() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let order = world.buy("100.00").await.unwrap();
    let mut changes = world.orders().wait_for_order(&id(&order)).status_changes();
    let mut seen = vec![changes.try_next().await.unwrap().unwrap().status];
    for seconds in [1, 1, 2] {
        world.sandbox.advance(Duration::from_secs(seconds));
        seen.push(changes.try_next().await.unwrap().unwrap().status);
    }
    assert_eq!(
        seen,
        [
            OrderStatus::Placed,
            OrderStatus::Executing,
            OrderStatus::Filled,
            OrderStatus::Settled
        ]
    );
    assert!(
        changes.try_next().await.unwrap().is_none(),
        "the stream ends at a terminal status"
    );

    let second = world.buy("100.00").await.unwrap();
    let wait = tokio::spawn(world.orders().wait_for_order(&id(&second)).into_future());
    world.sandbox.settle();
    let settled = wait.await.unwrap().unwrap();
    assert_eq!(settled.status, OrderStatus::Settled);
    assert_eq!(settled.traded_quantity.to_string(), "100.50");
}

#[tokio::test]
async fn a_wait_gives_up_after_its_timeout_with_the_last_order_seen() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let order = world.buy("100.00").await.unwrap();
    let err = world
        .orders()
        .wait_for_order(&id(&order))
        .timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, sophic::Error::WaitTimeout { last, .. } if last.status == OrderStatus::Placed),
        "{err}"
    );
}

#[tokio::test]
async fn cancelling_through_the_sdk_releases_the_cash() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let order = world.buy("100.00").await.unwrap();
    let cancelled = world.orders().cancel(&id(&order)).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    let balances = world
        .client
        .account(&world.account_id())
        .cash_balances()
        .await
        .unwrap();
    assert_eq!(balances[0].available.to_string(), "1000.00");
    let settled = world.buy("100.00").await.unwrap();
    world.sandbox.settle();
    let err = world.orders().cancel(&id(&settled)).await.unwrap_err();
    assert!(err.is_not_cancellable(), "{err}");
}

#[tokio::test]
async fn a_placement_retried_after_a_dropped_connection_yields_exactly_one_order() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 1).on("place_order"));
    let order = world.buy("100.00").await.unwrap();
    assert!(
        world.sandbox.armed_faults().is_empty(),
        "the connection really was dropped"
    );
    let all: Vec<_> = world.orders().list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 1, "the retry was replayed, not placed again");
    assert_eq!(all[0].id, order.id);
    let balances = world
        .client
        .account(&world.account_id())
        .cash_balances()
        .await
        .unwrap();
    assert_eq!(balances[0].reserved.to_string(), "100.00", "reserved once");
}

#[tokio::test]
async fn a_service_that_ignores_the_key_after_a_dropped_connection_yields_a_reported_twin() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    // The first attempt is stored and its connection dropped; the retry, same key, is
    // handled as if it had none: the service places a second order.
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 1).on("place_order"));
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::IgnoreIdempotencyKey, 1).on("place_order"));
    let err = world.buy("100.00").await.unwrap_err();

    let duplicate = err
        .duplicate()
        .unwrap_or_else(|| panic!("not reported: {err:?}"));
    let twin = duplicate.twin.as_ref().expect("the twin was found");
    let all: Vec<_> = world.orders().list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 2, "the service did place it twice");
    let mut ids = [all[0].id.clone(), all[1].id.clone()];
    let mut reported = [duplicate.order.id.clone(), twin.id.clone()];
    ids.sort();
    reported.sort();
    assert_eq!(ids, reported, "both orders are in the error");
    assert!(err.to_string().contains(&twin.id), "{err}");
    assert!(
        err.to_string().contains(&duplicate.idempotency_key),
        "{err}"
    );
}

#[tokio::test]
async fn with_duplicate_detection_off_the_ignored_key_returns_the_second_order() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let client = Client::builder()
        .base_url(world.sandbox.base_url())
        .token(world.account.token.clone())
        .detect_duplicate_placements(false)
        .build()
        .unwrap();
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 1).on("place_order"));
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::IgnoreIdempotencyKey, 1).on("place_order"));
    let order = client
        .orders(&world.account_id())
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .await
        .unwrap();
    let all: Vec<_> = world.orders().list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 2, "the silent duplicate the switch lets through");
    assert!(all.iter().any(|o| o.id == order.id));
}

#[tokio::test]
async fn an_ignored_key_without_a_doubtful_attempt_is_an_ordinary_placement() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::IgnoreIdempotencyKey, 1).on("place_order"));
    let order = world.buy("100.00").await.unwrap();
    let all: Vec<_> = world.orders().list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, order.id);
}

#[tokio::test]
async fn a_placement_whose_every_attempt_lost_its_connection_is_unknown_and_its_key_finishes_it() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let orders = world.orders_with_three_attempts();
    let first_attempt = world.sandbox.now();
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 5).on("place_order"));

    let err = orders
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .await
        .unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(
        world.sandbox.armed_faults()[0].count,
        2,
        "three attempts were dropped"
    );
    let key = err.idempotency_key().expect("the key sent").to_owned();
    assert!(err.to_string().contains(&key), "{err}");

    // One way on: the orders created since the first attempt. It was placed, once.
    let since: Vec<_> = orders
        .list()
        .created_gte(first_attempt)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(since.len(), 1, "the retries were replays, not new orders");

    // The other: place it again with the key. Through the two faults left, the stored
    // order comes back.
    let again = orders
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .idempotency_key(&key)
        .await
        .unwrap();
    assert_eq!(again.id, since[0].id);
    assert!(world.sandbox.armed_faults().is_empty());
    let replay = place_raw(&world, &key).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(replayed["id"], since[0].id.as_str());

    assert_eq!(world.orders().list().stream().count().await, 1);
    let balances = world
        .client
        .account(&world.account_id())
        .cash_balances()
        .await
        .unwrap();
    assert_eq!(balances[0].reserved.to_string(), "100.00", "reserved once");
}

/// A buy of 100.00 of the Kenya bond with this idempotency key, outside the SDK, to read
/// the answer's headers. The body is the SDK's, byte for byte: a key answers one request.
async fn place_raw(world: &World, key: &str) -> reqwest::Response {
    let buy: OrderRequest = OrderRequest::buy(&kenya(), cash("100.00")).into();
    reqwest::Client::new()
        .post(format!(
            "{}/accounts/{}/orders",
            world.sandbox.base_url(),
            world.account.id
        ))
        .bearer_auth(&world.account.token)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(buy.as_wire()).unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_placement_that_met_server_errors_until_the_retries_ran_out_is_unknown() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let orders = world.orders_with_three_attempts();
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 3).on("place_order"));

    let err = orders
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .await
        .unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert!(world.sandbox.armed_faults().is_empty());
    // This sandbox's 500s handled nothing, so the same key places the order now, once.
    let key = err.idempotency_key().unwrap();
    let placed = orders
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .idempotency_key(key)
        .await
        .unwrap();
    let all: Vec<_> = world.orders().list().stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, placed.id);
}

#[tokio::test]
async fn a_placement_the_sandbox_refused_is_not_an_unknown_outcome() {
    let world = World::new(AccountSpec::usd("50.00")).await;

    let err = world
        .orders_with_three_attempts()
        .place(OrderRequest::buy(&kenya(), cash("100.00")))
        .await
        .unwrap_err();

    assert!(err.is_insufficient_funds(), "{err}");
    assert!(!err.is_outcome_unknown(), "{err:?}");
    assert_eq!((err.idempotency_key(), err.attempts()), (None, None));
    assert_eq!(world.orders().list().stream().count().await, 0);
}

#[tokio::test]
async fn a_cancellation_whose_every_answer_was_lost_is_unknown_and_its_key_finishes_it() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let order = world.buy("100.00").await.unwrap();
    let orders = world.orders_with_three_attempts();
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::DropConnection, 3).on("cancel_order"));

    let err = orders.cancel(&id(&order)).await.unwrap_err();

    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.attempts(), Some(3));
    let key = err.idempotency_key().unwrap();
    let cancelled = orders
        .cancel(&id(&order))
        .idempotency_key(key)
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.id, order.id);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_with_retry_after_obeyed() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world
        .sandbox
        .arm(FaultSpec::new(FaultKind::InternalError, 2).on("place_order"));
    world.buy("100.00").await.unwrap();
    assert!(
        world.sandbox.armed_faults().is_empty(),
        "both 500s were answered and retried"
    );
    world.sandbox.arm(
        FaultSpec::new(FaultKind::RateLimited, 1)
            .on("place_order")
            .retry_after(1),
    );
    let started = std::time::Instant::now();
    world.buy("100.00").await.unwrap();
    assert!(
        world.sandbox.armed_faults().is_empty(),
        "the 429 was answered and retried"
    );
    // A rule, not a benchmark: the retry may not come before the server's Retry-After.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}",
        started.elapsed()
    );
    assert_eq!(world.orders().list().stream().count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credentials_are_renewed_once_for_many_concurrent_callers() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let oauth = world
        .sandbox
        .create_client(vec![world.account.id.clone()])
        .unwrap();
    let client = Client::builder()
        .base_url(world.sandbox.base_url())
        .client_credentials(oauth.id.clone(), oauth.secret.clone())
        .build()
        .unwrap();
    let account = world.account_id();
    let handle = client.account(&account);
    let calls = (0..50).map(|_| handle.cash_balances());
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(Result::is_ok));
    assert_eq!(
        world.sandbox.tokens_issued(),
        1,
        "one token for 50 concurrent callers"
    );

    // The sandbox clock passes the token's 15 minutes: the next calls get 401, renew once.
    world.sandbox.advance(Duration::from_secs(15 * 60));
    let calls = (0..20).map(|_| handle.positions());
    let answers = futures::future::join_all(calls).await;
    assert!(
        answers.iter().all(Result::is_ok),
        "{:?}",
        answers.iter().find(|a| a.is_err())
    );
    assert_eq!(
        world.sandbox.tokens_issued(),
        2,
        "one renewal for 20 callers that saw 401"
    );

    // A secret distinctive enough that finding it in the error would mean a leak.
    const WRONG_SECRET: &str = "cs_wrong_SECRET_e2e_7f3a";
    let wrong = Client::builder()
        .base_url(world.sandbox.base_url())
        .client_credentials(oauth.id.clone(), WRONG_SECRET)
        .build()
        .unwrap();
    let err = wrong.account(&account).positions().await.unwrap_err();
    assert!(matches!(err, sophic::Error::Auth(_)), "{err}");
    assert!(!format!("{err:?}{err}").contains(&oauth.secret));
    assert!(!format!("{err:?}{err}").contains(WRONG_SECRET));
    assert_eq!(
        world.sandbox.tokens_issued(),
        2,
        "a refused secret gets no token"
    );
}

#[tokio::test]
async fn a_sandbox_delivery_verifies_with_the_sdk_and_every_forgery_fails() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let (url, mut deliveries) = receiver().await;
    let created = world
        .client
        .webhooks()
        .create(sophic::types::CreateWebhookRequest::builder().url(url))
        .await
        .unwrap();
    let order = world.buy("100.00").await.unwrap();
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
        .await
        .unwrap()
        .unwrap();
    // The sandbox's clock is held at the documentation's example time, months away from
    // the receiver's; deliveries are signed with the wall clock, so a receiver written as
    // the README shows (`verify`, against its own clock) accepts them.
    let now = chrono::Utc::now();
    assert!(now - world.sandbox.now() > chrono::TimeDelta::days(30));
    let verifier = Verifier::new(created.secret.clone());

    let delivery = verifier.verify(&headers, &body).unwrap();
    match &delivery.event {
        WebhookEvent::Order(event) => assert_eq!(event.order.id, order.id),
        other => panic!("expected an order event, got {other:?}"),
    }

    let tampered = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("100.00", "900.00");
    assert!(
        verifier
            .verify_at(&headers, tampered.as_bytes(), now)
            .is_err(),
        "a tampered body fails"
    );
    assert!(matches!(
        verifier.verify_at(&headers, tampered.as_bytes(), now),
        Err(WebhookError::NoMatchingSignature)
    ));
    let stale = now + chrono::TimeDelta::minutes(6);
    assert!(
        verifier.verify_at(&headers, &body, stale).is_err(),
        "a stale timestamp fails"
    );
    assert!(matches!(
        verifier.verify_at(&headers, &body, stale),
        Err(WebhookError::TimestampTooOld { .. })
    ));
    let other_key = WebhookSecret::from_bytes([7; 32]);
    assert!(
        Verifier::new(other_key.clone())
            .verify_at(&headers, &body, now)
            .is_err(),
        "an unknown key fails"
    );
    assert!(matches!(
        Verifier::new(other_key.clone()).verify_at(&headers, &body, now),
        Err(WebhookError::NoMatchingSignature)
    ));

    // During rotation the header carries one signature per secret: any match verifies.
    let mut rotated = headers.clone();
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let old = sophic::webhooks::sign(&other_key, id, ts, &body);
    let current = headers["webhook-signature"].to_str().unwrap();
    rotated.insert(
        "webhook-signature",
        format!("{old} {current}").parse().unwrap(),
    );
    assert!(
        Verifier::new(created.secret)
            .verify_at(&rotated, &body, now)
            .is_ok()
    );
}
