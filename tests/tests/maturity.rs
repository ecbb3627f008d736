//! The life of an investment after settlement (contract section 11), through the SDK
//! against the sandbox on a held clock: maturity and payout, automatic rollover into the
//! series' next bill with the cash below zero until the payout, the rollover switch, prices
//! on the clock, and deliveries that still verify after the clock jumps months.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sophic::orders::OrderRequest;
use sophic::types::{EventName, OrderPurpose, OrderStatus, Position, TradingStatus};
use sophic::webhooks::{Verifier, WebhookEvent};
use sophic::{AccountId, Client, Error, InstrumentId};
use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig, TestAccount};

mod support;
use support::receiver;

/// The US 3-month bill issued on the held clock's start day (2026-03-12, a Thursday); it
/// matures on Thursday 2026-06-11 and, settling T+1, rolls over on Wednesday 2026-06-10.
const BILL: &str = "ins_us3m_260312";
/// The series' bill on the run on 2026-06-10: issued on 2026-06-04.
const SUCCESSOR: &str = "ins_us3m_260604";

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
            .build()
            .unwrap();
        Self {
            sandbox,
            account,
            client,
        }
    }

    fn id(&self) -> AccountId {
        self.account.id.parse().unwrap()
    }

    async fn buy(&self, instrument: &str, cash: &str, rollover: bool) -> sophic::types::Order {
        let instrument: InstrumentId = instrument.parse().unwrap();
        let mut request = OrderRequest::buy(&instrument, cash.parse().unwrap());
        if rollover {
            request = request.automatic_rollover(true);
        }
        let order = self.client.orders(&self.id()).place(request).await.unwrap();
        self.sandbox.settle();
        order
    }

    /// Moves the held clock to `at` (running every step and midnight on the way).
    fn advance_to(&self, at: DateTime<Utc>) {
        let by = (at - self.sandbox.now()).to_std().unwrap();
        self.sandbox.advance(by);
    }

    async fn usd(&self) -> Decimal {
        let balances = self
            .client
            .account(&self.id())
            .cash_balances()
            .await
            .unwrap();
        balances
            .iter()
            .find(|b| b.currency == sophic::types::Currency::Usd)
            .map(|b| b.total)
            .unwrap()
    }

    async fn positions(&self) -> Vec<Position> {
        self.client.account(&self.id()).positions().await.unwrap()
    }

    async fn position_in(&self, instrument: &str) -> Option<Position> {
        self.positions()
            .await
            .into_iter()
            .find(|p| p.instrument.id == instrument)
    }

    async fn orders(&self) -> Vec<sophic::types::Order> {
        self.client
            .orders(&self.id())
            .list()
            .stream()
            .try_collect()
            .await
            .unwrap()
    }
}

fn midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

#[tokio::test]
async fn a_bill_bought_with_rollover_rolls_one_business_day_before_maturity_then_pays_out() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world.buy(BILL, "1000.00", true).await;
    let old = world.position_in(BILL).await.expect("the bill is held");
    assert!(old.automatic_rollover);
    assert_eq!(
        old.instrument.maturity_date,
        NaiveDate::from_ymd_opt(2026, 6, 11)
    );
    let nominal = old.quantity;
    let cash_before = world.usd().await;

    // The evening before the rollover day, nothing has happened yet.
    world.advance_to(midnight(2026, 6, 10) - TimeDelta::seconds(1));
    let rollovers = |orders: &[sophic::types::Order]| {
        orders
            .iter()
            .filter(|o| o.purpose == OrderPurpose::Rollover)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(rollovers(&world.orders().await).is_empty());

    // On Wednesday 2026-06-10 (T+1 bill: one business day before maturity) exactly one
    // rollover buy is placed, into the series' bill on the run, for the nominal value.
    world.advance_to(midnight(2026, 6, 10) + TimeDelta::hours(1));
    let rolled = rollovers(&world.orders().await);
    assert_eq!(rolled.len(), 1, "{rolled:#?}");
    let rollover = &rolled[0];
    assert_eq!(rollover.instrument.id, SUCCESSOR);
    assert_eq!(rollover.cash_amount, Some(nominal.round_dp(2)));
    assert!(rollover.automatic_rollover);
    assert_eq!(rollover.status, OrderStatus::Settled);
    assert_eq!(rollover.account.as_deref(), Some(world.account.id.as_str()));
    assert_eq!(rollover.created_at, midnight(2026, 6, 10));

    // Cash was debited when it executed: below zero until the old bill pays out.
    let debit = rollover.traded_notional + rollover.fees;
    let negative = world.usd().await;
    assert_eq!(negative, cash_before - debit);
    assert!(negative < Decimal::ZERO, "{negative}");
    assert_eq!(world.sandbox.broken_invariants(), Vec::<String>::new());
    // The old bill's units are held for the payout that covers the debit: not for sale.
    let held = world.position_in(BILL).await.unwrap();
    assert_eq!(held.available_quantity, Decimal::ZERO, "{held:?}");
    let bill: InstrumentId = BILL.parse().unwrap();
    let sell = world
        .client
        .orders(&world.id())
        .place(OrderRequest::sell(&bill, "1".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(sell.is_insufficient_units(), "{sell}");
    let new = world
        .position_in(SUCCESSOR)
        .await
        .expect("the new bill is held");
    assert!(new.automatic_rollover, "the new position rolls again");
    assert_eq!(new.quantity, rollover.traded_quantity);

    // At 00:00 UTC on the maturity date the old position pays out its nominal value.
    world.advance_to(midnight(2026, 6, 11) + TimeDelta::seconds(1));
    assert_eq!(world.usd().await, negative + nominal.round_dp(2));
    assert!(
        world.position_in(BILL).await.is_none(),
        "the old position closed"
    );
    assert!(world.position_in(SUCCESSOR).await.is_some());
    let bill = world
        .client
        .instruments()
        .get(&BILL.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(bill.trading_status, Some(TradingStatus::Closed));
    let matured: Vec<_> = world
        .client
        .events()
        .list()
        .name(EventName::PositionMatured)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(matured.len(), 1);
    assert_eq!(matured[0].resource.id, old.id);
    assert_eq!(matured[0].resource.resource_type, "position");
    assert_eq!(matured[0].created_at, midnight(2026, 6, 11));
    assert_eq!(rollovers(&world.orders().await).len(), 1, "it rolled once");
    assert_eq!(world.sandbox.broken_invariants(), Vec::<String>::new());
}

#[tokio::test]
async fn a_bill_without_rollover_simply_pays_out_at_maturity_and_stops_trading() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world.buy(BILL, "500.00", false).await;
    let held = world.position_in(BILL).await.unwrap();
    let before = world.usd().await;
    world.advance_to(midnight(2026, 6, 11) + TimeDelta::minutes(1));
    assert!(
        world
            .orders()
            .await
            .iter()
            .all(|o| o.purpose != OrderPurpose::Rollover)
    );
    assert_eq!(world.usd().await, before + held.quantity.round_dp(2));
    assert!(world.position_in(BILL).await.is_none());
    let instrument: InstrumentId = BILL.parse().unwrap();
    let refused = world
        .client
        .orders(&world.id())
        .place(OrderRequest::buy(&instrument, "10.00".parse().unwrap()))
        .await
        .unwrap_err();
    assert!(
        refused.code() == Some(&sophic::types::ErrorCode::InstrumentNotTrading),
        "{refused}"
    );
}

#[tokio::test]
async fn the_rollover_switch_works_on_bills_and_locks_four_days_before_maturity() {
    let spec = AccountSpec::usd("1000.00").position("ins_xyz789", "10");
    let world = World::new(spec).await;
    world.buy(BILL, "100.00", false).await;
    let bill = world.position_in(BILL).await.unwrap();
    let account = world.client.account(&world.id());
    let on = account
        .set_automatic_rollover(&bill.id, true)
        .await
        .unwrap();
    assert!(on.automatic_rollover);
    assert!(world.position_in(BILL).await.unwrap().automatic_rollover);

    let bond = world.position_in("ins_xyz789").await.unwrap();
    let refusal = account
        .set_automatic_rollover(&bond.id, true)
        .await
        .unwrap_err();
    assert_eq!(field_of(&refusal), "body.automatic_rollover", "{refusal}");
    assert!(refusal.to_string().contains("only bills"), "{refusal}");

    // 2026-06-07 is 4 calendar days before maturity: locked (and the earlier switch holds).
    world.advance_to(midnight(2026, 6, 7));
    let locked = account
        .set_automatic_rollover(&bill.id, false)
        .await
        .unwrap_err();
    assert_eq!(field_of(&locked), "body.automatic_rollover", "{locked}");
    assert!(locked.to_string().contains("2026-06-11"), "{locked}");
    // A buy asking for rollover would switch it on for the position: locked the same way.
    let instrument: InstrumentId = BILL.parse().unwrap();
    let buy = world
        .client
        .orders(&world.id())
        .place(OrderRequest::buy(&instrument, "10.00".parse().unwrap()).automatic_rollover(true))
        .await
        .unwrap_err();
    assert_eq!(field_of(&buy), "body.automatic_rollover", "{buy}");
    assert!(world.position_in(BILL).await.unwrap().automatic_rollover);

    let unknown = account
        .set_automatic_rollover("pos_unknown", true)
        .await
        .unwrap_err();
    assert_eq!(unknown.status().map(|s| s.as_u16()), Some(404), "{unknown}");
}

fn field_of(error: &Error) -> String {
    error
        .params()
        .first()
        .map(|p| p.path.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn prices_move_on_the_clock_the_same_way_for_the_same_seed() {
    let run = || async {
        let world = World::new(AccountSpec::usd("10000.00")).await;
        let mut seen = Vec::new();
        for day in 0..40 {
            world.advance_to(midnight(2026, 3, 13) + TimeDelta::days(day));
            seen.push((
                world.sandbox.price("ins_xyz789").unwrap(),
                world.sandbox.price(BILL).unwrap(),
            ));
        }
        let order = world.buy(BILL, "1000.00", true).await;
        let orders = world.client.orders(&world.id());
        let order = orders.get(&order.id.parse().unwrap()).await.unwrap();
        (seen, order, world.positions().await, world.usd().await)
    };
    let (first, second) = (run().await, run().await);
    assert_eq!(first.0, second.0, "prices");
    assert_eq!(first.1.id, second.1.id, "ids");
    assert_eq!(
        serde_json::to_value(&first.1).unwrap(),
        serde_json::to_value(&second.1).unwrap(),
        "the order and its trades"
    );
    assert_eq!(first.3, second.3, "cash");
    assert_eq!(
        serde_json::to_value(&first.2).unwrap(),
        serde_json::to_value(&second.2).unwrap()
    );
    // The bond walks; the bill accretes toward 1.00 as it nears maturity.
    let bond: std::collections::BTreeSet<_> = first.0.iter().map(|p| p.0).collect();
    assert!(bond.len() > 5, "the bond's price moves: {bond:?}");
    let bill: Vec<_> = first.0.iter().map(|p| p.1).collect();
    assert!(bill.last() > bill.first(), "{bill:?}");
    assert!(bill.iter().all(|p| *p < Decimal::ONE));
}

#[tokio::test]
async fn a_pinned_price_holds_until_unpinned() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world
        .sandbox
        .set_price("ins_xyz789", "1.25".parse().unwrap())
        .unwrap();
    world.advance_to(midnight(2026, 4, 1));
    assert_eq!(
        world.sandbox.price("ins_xyz789").unwrap().to_string(),
        "1.25"
    );
    world.sandbox.unpin_price("ins_xyz789").unwrap();
    assert_ne!(
        world.sandbox.price("ins_xyz789").unwrap().to_string(),
        "1.25"
    );
}

#[tokio::test]
async fn a_maturity_delivery_verifies_with_the_wall_clock_after_a_jump_of_three_months() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let (url, mut deliveries) = receiver().await;
    let created = world
        .client
        .webhooks()
        .create(
            sophic::types::CreateWebhookRequest::builder()
                .url(url)
                .enabled_events(vec![EventName::PositionMatured]),
        )
        .await
        .unwrap();
    world.buy(BILL, "100.00", false).await;
    let held = world.position_in(BILL).await.unwrap();
    world.advance_to(midnight(2026, 6, 11) + TimeDelta::hours(1));
    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
        .await
        .unwrap()
        .unwrap();
    let delivery = Verifier::new(created.secret)
        .verify(&headers, &body)
        .unwrap();
    match &delivery.event {
        WebhookEvent::Position(event) => {
            assert_eq!(event.position.id, held.id);
            assert_eq!(event.position.quantity, held.quantity);
            assert_eq!(event.event.name, EventName::PositionMatured);
        }
        other => panic!("expected position.matured, got {other:?}"),
    }
}

#[tokio::test]
async fn a_large_order_fills_in_several_trades_and_a_cancel_midway_releases_the_remainder() {
    let world = World::new(AccountSpec::usd("10000.00").position("ins_xyz789", "1000")).await;
    world
        .sandbox
        .set_lot("ins_xyz789", "100".parse().unwrap())
        .unwrap();
    let bond: InstrumentId = "ins_xyz789".parse().unwrap();
    let orders = world.client.orders(&world.id());

    // A buy of 500.00 at 0.99 is 502.52 units: five trades of 100 and one of 2.52.
    let buy = orders
        .place(OrderRequest::buy(&bond, "500.00".parse().unwrap()))
        .await
        .unwrap();
    world.sandbox.settle();
    let buy = orders.get(&buy.id.parse().unwrap()).await.unwrap();
    assert_eq!(buy.status, OrderStatus::Settled);
    let sizes: Vec<String> = buy.trades.iter().map(|t| t.quantity.to_string()).collect();
    assert_eq!(sizes, ["100", "100", "100", "100", "100", "2.52"]);
    let sum: Decimal = buy.trades.iter().map(|t| t.quantity).sum();
    assert_eq!(sum, buy.traded_quantity);
    let notional: Decimal = buy.trades.iter().map(|t| t.notional).sum();
    assert_eq!(notional, buy.traded_notional);
    assert_eq!(
        world.usd().await,
        "10000.00".parse::<Decimal>().unwrap() - notional - buy.fees
    );

    // A sell of 350 units, cancelled after its second trade: 200 sold, 150 released.
    let before_cash = world.usd().await;
    let sell = orders
        .place(OrderRequest::sell(&bond, "350".parse().unwrap()))
        .await
        .unwrap();
    let id = sell.id.parse().unwrap();
    let mut seen = orders.get(&id).await.unwrap();
    while seen.trades.len() < 2 {
        world.sandbox.advance(Duration::from_secs(1));
        seen = orders.get(&id).await.unwrap();
        assert!(!seen.status.is_terminal(), "{seen:?}");
    }
    assert_eq!(
        seen.status,
        OrderStatus::Executing,
        "still executing between trades"
    );
    assert_eq!(seen.traded_quantity.to_string(), "200");
    let held = world.position_in("ins_xyz789").await.unwrap();
    assert_eq!(held.available_quantity, held.quantity - Decimal::from(150));
    let cancelled = orders.cancel(&id).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.trades.len(), 2);
    let fees = (cancelled.traded_notional * Decimal::new(5, 3)).round_dp(2);
    assert_eq!(cancelled.fees, fees, "the fees of the filled part");
    let held_after = world.position_in("ins_xyz789").await.unwrap();
    assert_eq!(
        held_after.available_quantity, held_after.quantity,
        "the remainder is free"
    );
    assert_eq!(held_after.quantity, held.quantity);
    assert_eq!(
        world.usd().await,
        before_cash + cancelled.traded_notional - fees
    );
    assert_eq!(world.sandbox.broken_invariants(), Vec::<String>::new());
}

#[tokio::test]
async fn in_the_market_profile_fills_settle_on_business_days() {
    let mut config = SandboxConfig::held();
    config.rules.timing = sophic_sandbox::Timing::Market;
    // Friday 2026-03-13, 10:00 UTC: a US bill (T+1) settles on Monday, a German bill (T+2)
    // on Tuesday; the weekend never counts.
    config.start = "2026-03-13T10:00:00Z".parse().unwrap();
    let sandbox = Sandbox::start(config).await.unwrap();
    let account = sandbox
        .create_account(&AccountSpec::usd("1000.00").cash(sophic::types::Currency::Eur, "1000.00"))
        .unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token(account.token.clone())
        .build()
        .unwrap();
    let orders = client.orders(&account.id.parse().unwrap());
    let mut placed = Vec::new();
    for bill in [BILL, "ins_de6m_260312"] {
        let instrument: InstrumentId = bill.parse().unwrap();
        let order = orders
            .place(OrderRequest::buy(&instrument, "100.00".parse().unwrap()))
            .await
            .unwrap();
        placed.push(order.id.parse().unwrap());
    }
    sandbox.advance(Duration::from_secs(60));
    for id in &placed {
        assert_eq!(orders.get(id).await.unwrap().status, OrderStatus::Filled);
    }
    sandbox.settle();
    let us = orders.get(&placed[0]).await.unwrap();
    let de = orders.get(&placed[1]).await.unwrap();
    assert_eq!(us.settled_at, Some(midnight(2026, 3, 16)), "Monday");
    assert_eq!(de.settled_at, Some(midnight(2026, 3, 17)), "Tuesday");
}

#[tokio::test]
async fn an_order_fills_in_at_most_a_hundred_trades_however_small_the_lot() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    world
        .sandbox
        .set_lot("ins_xyz789", "1".parse().unwrap())
        .unwrap();
    let order = world.buy("ins_xyz789", "500.00", false).await;
    let order = world
        .client
        .orders(&world.id())
        .get(&order.id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Settled);
    assert_eq!(order.trades.len(), 100);
    assert!(
        order.trades[..99]
            .iter()
            .all(|t| t.quantity == Decimal::ONE)
    );
    assert_eq!(order.trades[99].quantity.to_string(), "403.52");
}

#[tokio::test]
async fn trades_in_small_lots_add_up_to_the_cents_of_the_whole_and_lots_keep_the_precision() {
    let world = World::new(AccountSpec::usd("1000.00")).await;
    let refused = world
        .sandbox
        .set_lot("ins_xyz789", "0.001".parse().unwrap());
    assert!(
        refused.is_err(),
        "a lot finer than the instrument's quantities"
    );
    world
        .sandbox
        .set_lot("ins_xyz789", "1".parse().unwrap())
        .unwrap();
    world
        .sandbox
        .set_price("ins_xyz789", "0.4003".parse().unwrap())
        .unwrap();
    let order = world.buy("ins_xyz789", "20.00", false).await;
    let order = world
        .client
        .orders(&world.id())
        .get(&order.id.parse().unwrap())
        .await
        .unwrap();
    assert!(order.trades.len() > 40, "{}", order.trades.len());
    let price: Decimal = "0.4003".parse().unwrap();
    assert_eq!(
        order.traded_notional,
        (order.traded_quantity * price).round_dp(2),
        "one rounding for the whole order, not one per trade"
    );
    let sum: Decimal = order.trades.iter().map(|t| t.notional).sum();
    assert_eq!(sum, order.traded_notional);
}
