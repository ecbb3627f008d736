//! Fault tolerance and a soak, through the SDK against the real sandbox.
//!
//! Sizes come from the environment so CI runs them small and `scripts/reliability.sh` runs
//! them full: `SOPHIC_FAULT_PLACEMENTS` (default 100) and `SOPHIC_SOAK_STEPS` (default 25).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;
use sophic::orders::OrderRequest;
use sophic::types::{Order, OrderStatus, exhaustive};
use sophic::{AccountId, Amount, Client, InstrumentId, RetryPolicy};
use sophic_sandbox::{AccountSpec, FaultKind, FaultSpec, Sandbox, SandboxConfig, TestAccount};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client(sandbox: &Sandbox, account: &TestAccount) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .token(account.token.clone())
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(8)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(50)),
        )
        .build()
        .unwrap()
}

async fn all_orders(client: &Client, account: &AccountId) -> Vec<Order> {
    client
        .orders(account)
        .list()
        .page_size(500)
        .stream()
        .try_collect()
        .await
        .unwrap()
}

/// Cash the account should hold: the start, less what settled buys cost, plus what settled
/// sells paid (cancelled orders cost nothing).
fn expected_cash(start: Decimal, orders: &[Order]) -> Decimal {
    orders
        .iter()
        .filter(|o| o.status == OrderStatus::Settled)
        .fold(start, |cash, o| match o.side.exhaustive() {
            exhaustive::OrderSide::Buy => cash - o.traded_notional - o.fees,
            exhaustive::OrderSide::Sell => cash + o.traded_notional - o.fees,
            exhaustive::OrderSide::Unknown(side) => panic!("an order with side {side:?}"),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn placements_under_drops_500s_and_429s_create_exactly_one_order_each() {
    let placements = size("SOPHIC_FAULT_PLACEMENTS", 100);
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    // Each placement buys a distinct whole amount, 10.00 + i (see below): enough cash for all.
    let needed = placements * 10 + placements * placements.saturating_sub(1) / 2;
    let start: Decimal = format!("{}.00", needed.max(1_000_000)).parse().unwrap();
    let account = sandbox
        .create_account(&AccountSpec::usd(&start.to_string()))
        .unwrap();
    let client = client(&sandbox, &account);
    let account_id: AccountId = account.id.parse().unwrap();
    let instrument: InstrumentId = "ins_xyz789".parse().unwrap();

    // The schedule: of every four placements, one meets a dropped connection after the
    // order was stored, one a 500, one a 429, one nothing.
    let workers = 8;
    let results = futures::stream::iter(0..placements)
        .map(|i| {
            let orders = client.orders(&account_id);
            let instrument = instrument.clone();
            let sandbox = &sandbox;
            async move {
                let fault = match i % 4 {
                    0 => Some(FaultSpec::new(FaultKind::DropConnection, 1)),
                    1 => Some(FaultSpec::new(FaultKind::InternalError, 1)),
                    2 => Some(FaultSpec::new(FaultKind::RateLimited, 1).retry_after(0)),
                    _ => None,
                };
                if let Some(fault) = fault {
                    sandbox.arm(fault.on("place_order"));
                }
                // A distinct amount each, so that the SDK's twin check (run after a 500 or a
                // drop) would report a real duplicate and never mistake one placement for
                // another's twin.
                let cash: Amount = format!("{}.00", 10 + i).parse().unwrap();
                orders.place(OrderRequest::buy(&instrument, cash)).await
            }
        })
        .buffer_unordered(workers)
        .collect::<Vec<_>>()
        .await;

    let placed: Vec<Order> = results
        .into_iter()
        .map(|r| r.expect("every placement succeeds"))
        .collect();
    assert!(
        sandbox.armed_faults().is_empty(),
        "every scheduled fault hit a placement"
    );
    let ids: HashSet<&str> = placed.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        placements,
        "each placement returned its own order"
    );
    let stored = all_orders(&client, &account_id).await;
    assert_eq!(
        stored.len(),
        placements,
        "exactly one order per placement, no duplicate"
    );

    sandbox.settle();
    let settled = all_orders(&client, &account_id).await;
    assert!(settled.iter().all(|o| o.status == OrderStatus::Settled));
    let balances = client.account(&account_id).cash_balances().await.unwrap();
    assert_eq!(
        balances[0].total,
        expected_cash(start, &settled),
        "cash reconciles to the cent"
    );
    assert_eq!(
        (balances[0].reserved, balances[0].available),
        (Decimal::ZERO, balances[0].total)
    );
    assert!(sandbox.broken_invariants().is_empty());
}

/// A small deterministic generator, so a failing soak can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soak_of_buys_sells_and_cancels_never_breaks_a_balance() {
    let steps = size("SOPHIC_SOAK_STEPS", 25);
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let mut accounts = Vec::new();
    for _ in 0..4 {
        let account = sandbox
            .create_account(
                &AccountSpec::usd("2000.00")
                    .position("ins_xyz789", "300")
                    .position("ins_us3m_260312", "300"),
            )
            .unwrap();
        let client = client(&sandbox, &account);
        accounts.push((account.id.parse::<AccountId>().unwrap(), client));
    }
    let instruments: Vec<InstrumentId> = ["ins_xyz789", "ins_us3m_260312"]
        .iter()
        .map(|i| i.parse().unwrap())
        .collect();
    let mut rng = Lcg(20261123);
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();

    for step in 0..steps {
        // A burst of concurrent operations across the accounts.
        let mut burst = Vec::new();
        for _ in 0..12 {
            let (account, client) = &accounts[rng.next(accounts.len() as u64) as usize];
            let instrument = instruments[rng.next(2) as usize].clone();
            let choice = rng.next(3);
            let amount = 10 + rng.next(400);
            let orders = client.orders(account);
            burst.push(async move {
                match choice {
                    0 => orders
                        .place(OrderRequest::buy(
                            &instrument,
                            format!("{amount}.00").parse().unwrap(),
                        ))
                        .await
                        .map(|_| "buy"),
                    1 => orders
                        .place(OrderRequest::sell(
                            &instrument,
                            format!("{}", amount / 4 + 1).parse().unwrap(),
                        ))
                        .await
                        .map(|_| "sell"),
                    _ => match orders.list_pending().stream().next().await {
                        Some(Ok(open)) => orders
                            .cancel(&open.id.parse().unwrap())
                            .await
                            .map(|_| "cancel"),
                        // A failed listing is a failure, not "nothing to cancel".
                        Some(Err(e)) => Err(e),
                        None => Ok("nothing to cancel"),
                    },
                }
            });
        }
        for result in futures::future::join_all(burst).await {
            let outcome = match result {
                Ok(what) => what,
                Err(e) if e.is_insufficient_funds() => "insufficient_funds",
                Err(e) if e.is_insufficient_units() => "insufficient_units",
                Err(e) if e.is_not_cancellable() => "not_cancellable",
                Err(e) => panic!("step {step}: an unexpected failure: {e}"),
            };
            *outcomes.entry(outcome).or_default() += 1;
        }
        sandbox.advance(Duration::from_secs(1 + rng.next(2)));
        let broken = sandbox.broken_invariants();
        assert!(broken.is_empty(), "step {step}: {broken:?}");
        for (account, client) in &accounts {
            for b in client.account(account).cash_balances().await.unwrap() {
                assert!(
                    b.total >= Decimal::ZERO
                        && b.available >= Decimal::ZERO
                        && b.reserved >= Decimal::ZERO
                );
                assert_eq!(b.available + b.reserved, b.total, "step {step}: {account}");
            }
            for p in client.account(account).positions().await.unwrap() {
                assert!(
                    p.available_quantity >= Decimal::ZERO && p.available_quantity <= p.quantity
                );
            }
        }
    }
    sandbox.settle();
    for (account, client) in &accounts {
        let orders = all_orders(client, account).await;
        let balances = client.account(account).cash_balances().await.unwrap();
        assert_eq!(
            balances[0].total,
            expected_cash("2000.00".parse().unwrap(), &orders),
            "{account} reconciles"
        );
    }
    println!("soak: {steps} steps, outcomes {outcomes:?}");
    assert!(
        outcomes.get("buy").copied().unwrap_or(0) > 0
            && outcomes.get("sell").copied().unwrap_or(0) > 0
            && outcomes.get("cancel").copied().unwrap_or(0) > 0,
        "every kind of operation happened: {outcomes:?}"
    );
}

/// The bills of a US series on the run today, newest first.
async fn bills_on_the_run(client: &Client) -> Vec<InstrumentId> {
    let mut bills: Vec<_> = client
        .instruments()
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| {
            (i.symbol.starts_with("UST3M") || i.symbol.starts_with("UST6M"))
                && i.trading_status == Some(sophic::types::TradingStatus::BuySell)
        })
        .collect();
    bills.sort_by_key(|i| std::cmp::Reverse(i.initial_issue_date));
    bills.into_iter().map(|i| i.id.parse().unwrap()).collect()
}

/// What the account's matured positions paid out: their quantity at 1.00 of face value.
async fn payouts(client: &Client) -> Decimal {
    let matured: Vec<_> = client
        .events()
        .list()
        .name(sophic::types::EventName::PositionMatured)
        .stream()
        .try_collect()
        .await
        .unwrap();
    matured
        .iter()
        .map(|e| {
            let quantity: Decimal = e.data["quantity"].as_str().unwrap().parse().unwrap();
            quantity.round_dp(2)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soak_across_maturities_and_rollovers_conserves_cash_to_the_cent() {
    let days = size("SOPHIC_SOAK_DAYS", 40);
    let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
    let start: Decimal = "5000.00".parse().unwrap();
    let mut accounts = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let account = sandbox
            .create_account(&AccountSpec::usd("5000.00"))
            .unwrap();
        let client = client(&sandbox, &account);
        tokens.push(account.token.clone());
        accounts.push((account.id.parse::<AccountId>().unwrap(), client));
    }
    let bond: InstrumentId = "ins_xyz789".parse().unwrap();
    let mut rng = Lcg(20261201);
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for day in 0..days {
        let bills = bills_on_the_run(&accounts[0].1).await;
        for (account, client) in &accounts {
            let orders = client.orders(account);
            for _ in 0..3 {
                let cash: Amount = format!("{}.{:02}", 10 + rng.next(600), rng.next(100))
                    .parse()
                    .unwrap();
                let outcome = match rng.next(5) {
                    0 | 1 => {
                        let bill = &bills[rng.next(bills.len() as u64) as usize];
                        let rollover = rng.next(2) == 0;
                        let request = OrderRequest::buy(bill, cash).automatic_rollover(rollover);
                        orders.place(request).await.map(|_| "buy bill")
                    }
                    // The bond takes whole amounts (its required_cash_increment is 1).
                    2 => orders
                        .place(OrderRequest::buy(
                            &bond,
                            format!("{}.00", 10 + rng.next(600)).parse().unwrap(),
                        ))
                        .await
                        .map(|_| "buy bond"),
                    3 => {
                        let held = client.account(account).positions().await.unwrap();
                        match held.get(rng.next(held.len().max(1) as u64) as usize) {
                            Some(p) if p.available_quantity >= Decimal::ONE => {
                                let units = (p.available_quantity / Decimal::TWO).round_dp(0);
                                let instrument: InstrumentId = p.instrument.id.parse().unwrap();
                                let units = units.max(Decimal::ONE).to_string().parse().unwrap();
                                orders
                                    .place(OrderRequest::sell(&instrument, units))
                                    .await
                                    .map(|_| "sell")
                            }
                            _ => Ok("nothing to sell"),
                        }
                    }
                    _ => {
                        let held = client.account(account).positions().await.unwrap();
                        match held.iter().find(|p| p.instrument.id.starts_with("ins_us")) {
                            Some(p) => client
                                .account(account)
                                .set_automatic_rollover(&p.id, !p.automatic_rollover)
                                .await
                                .map(|_| "switch rollover"),
                            None => Ok("nothing to switch"),
                        }
                    }
                };
                let outcome = match outcome {
                    Ok(what) => what,
                    Err(e) if e.is_insufficient_funds() => "insufficient_funds",
                    Err(e) if e.is_insufficient_units() => "insufficient_units",
                    Err(e) if e.code() == Some(&sophic::types::ErrorCode::InvalidParam) => {
                        "refused (rollover locked, or a rule)"
                    }
                    Err(e) => panic!("day {day}: an unexpected failure: {e}"),
                };
                *outcomes.entry(outcome).or_default() += 1;
            }
            // A placement cancelled at once releases all it reserved.
            if let Ok(placed) = orders
                .place(OrderRequest::buy(&bond, "10.00".parse().unwrap()))
                .await
            {
                orders.cancel(&placed.id.parse().unwrap()).await.unwrap();
                *outcomes.entry("cancel").or_default() += 1;
            }
        }
        sandbox.advance(Duration::from_secs(86_400));
        let broken = sandbox.broken_invariants();
        assert!(broken.is_empty(), "day {day}: {broken:?}");
        // Every order placed that day, and every rollover placed at midnight, has settled:
        // the cash is the start, plus sells and payouts, less buys and fees, to the cent.
        for (account, client) in &accounts {
            let orders = all_orders(client, account).await;
            assert!(
                orders.iter().all(|o| o.status.is_terminal()),
                "day {day}: {account} has an open order"
            );
            let expected = expected_cash(start, &orders) + payouts(client).await;
            let balances = client.account(account).cash_balances().await.unwrap();
            assert_eq!(
                balances[0].total, expected,
                "day {day}: {account} reconciles"
            );
        }
    }
    let rollovers: usize = {
        let mut n = 0;
        for (account, client) in &accounts {
            n += all_orders(client, account)
                .await
                .iter()
                .filter(|o| o.purpose == sophic::types::OrderPurpose::Rollover)
                .count();
        }
        n
    };
    let matured: Decimal = {
        let mut total = Decimal::ZERO;
        for (_, client) in &accounts {
            total += payouts(client).await;
        }
        total
    };
    println!(
        "maturity soak: {days} days, {rollovers} rollovers, {matured} paid out, outcomes {outcomes:?}"
    );
    assert!(rollovers > 0, "some positions rolled over");
    assert!(matured > Decimal::ZERO, "some positions matured");

    // The whole history, replayed from a snapshot in another sandbox, is the same state:
    // every order, trade, position, balance and event of every account (issue 14).
    let snapshot = sandbox.snapshot().unwrap();
    let restored = Sandbox::start(SandboxConfig::held()).await.unwrap();
    restored.restore(&snapshot).unwrap();
    assert_eq!(restored.now(), sandbox.now());
    for (i, (account, client)) in accounts.iter().enumerate() {
        let other = Client::builder()
            .base_url(restored.base_url())
            .token(tokens[i].clone())
            .build()
            .unwrap();
        // (The SDK's types compare by their Debug form: they carry no PartialEq.)
        let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{account}");
        };
        same(
            &all_orders(&other, account).await,
            &all_orders(client, account).await,
        );
        let (mine, theirs) = (client.account(account), other.account(account));
        same(
            &theirs.positions().await.unwrap(),
            &mine.positions().await.unwrap(),
        );
        same(
            &theirs.cash_balances().await.unwrap(),
            &mine.cash_balances().await.unwrap(),
        );
    }
    assert_eq!(restored.broken_invariants(), Vec::<String>::new());
}
