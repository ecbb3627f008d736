//! `sophic demo`: the whole journey — buy 100.00 of Kenya 2024 Bond A, follow it to
//! settlement, look at the position and cash, sell the units back, list the orders.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use sophic::orders::{OrderExt as _, OrderRequest};
use sophic::types::{Order, OrderPurpose, TradingStatus};
use sophic::{Amount, InstrumentId, Quantity};

use super::orders::follow;
use crate::failure::Failure;
use crate::output::Output;
use crate::target::Target;

const INSTRUMENT: &str = "ins_xyz789";
const CASH: &str = "100.00";
const TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(target: &Target, out: &Output) -> Result<(), Failure> {
    let started = Instant::now();
    let account = target.account()?;
    let orders = target.client.orders(account);
    let instrument: InstrumentId = INSTRUMENT.parse().expect("a valid id");
    let say = |text: String| {
        if !out.json {
            println!("{text}");
        }
    };

    say(format!(
        "Sophic demo on {} with account {account}\n",
        target.client.base_url()
    ));
    let listing = target.client.instruments().get(&instrument).await?;
    say(format!(
        "1. Buy {CASH} of {} ({}, {INSTRUMENT}), a market order paid in cash",
        listing.name, listing.symbol
    ));
    let cash: Amount = CASH.parse().expect("a positive amount");
    let buy = orders
        .place(OrderRequest::buy(&instrument, cash))
        .send()
        .await?;
    say(placed(&buy));
    let buy = follow(&orders, &buy.order_id(), None, TIMEOUT, out).await?;
    say(format!(
        "   {}: {} units at {} for {} (fees {})\n",
        out.status(&buy.status),
        buy.traded_quantity,
        buy.trades
            .first()
            .map_or("-".into(), |t| t.price.to_string()),
        buy.traded_notional,
        buy.fees
    ));

    say("2. The position and the cash after settlement".into());
    let positions = target.client.account(account).positions().await?;
    let balances = target.client.account(account).cash_balances().await?;
    say(format!(
        "{}\n{}\n",
        out.positions(&positions),
        out.balances(&balances)
    ));

    let units: Quantity = buy.traded_quantity.try_into().map_err(|_| {
        Failure::Unexpected(format!("the buy traded no units (it is {})", buy.status))
    })?;
    say(format!("3. Sell the {units} units back"));
    let sell = orders
        .place(OrderRequest::sell(&instrument, units))
        .send()
        .await?;
    say(placed(&sell));
    let sell = follow(&orders, &sell.order_id(), None, TIMEOUT, out).await?;
    say(format!(
        "   {}: {} units sold for {} less {} in fees\n",
        out.status(&sell.status),
        sell.traded_quantity,
        sell.traded_notional,
        sell.fees
    ));

    say("4. The account's orders, newest first".into());
    let all: Vec<Order> = orders.list().stream().take(20).try_collect().await?;
    let balances = target.client.account(account).cash_balances().await?;
    say(format!("{}\n{}", out.orders(&all), out.balances(&balances)));
    say(format!(
        "\nDone in {:.1} s.",
        started.elapsed().as_secs_f64()
    ));
    if out.json {
        out.json(&json!({"buy": buy, "sell": sell, "positions": positions, "balances": balances, "orders": all}));
    }
    Ok(())
}

/// `sophic demo --rollover`: a bill bought with automatic rollover, followed through its
/// rollover day (the rollover buy, the cash below zero) and its maturity (the payout).
pub async fn rollover(target: &Target, out: &Output) -> Result<(), Failure> {
    let started = Instant::now();
    let account = target.account()?;
    let orders = target.client.orders(account);
    let base = target.client.base_url().to_string();
    let say = |text: String| {
        if !out.json {
            println!("{text}");
        }
    };
    let clock = super::sandbox::call(&base, "GET", "/clock", None).await?;
    let now: DateTime<Utc> = clock["now"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Failure::Unexpected("the sandbox's clock is unreadable".into()))?;
    let today = now.date_naive();
    let instruments = target.client.instruments().list().await?;
    let bill = instruments
        .iter()
        .filter(|i| {
            i.symbol.starts_with("UST3M")
                && i.trading_status == Some(TradingStatus::BuySell)
                && i.maturity_date.is_some_and(|m| (m - today).num_days() > 4)
        })
        .max_by_key(|i| i.initial_issue_date)
        .ok_or_else(|| Failure::Unexpected("no US 3-month bill is on the run".into()))?
        .clone();
    let maturity = bill.maturity_date.expect("filtered on it");
    say(format!(
        "Sophic rollover demo on {base} with account {account}, clock at {now}\n"
    ));
    let balances = target.client.account(account).cash_balances().await?;
    let usd = |balances: &[sophic::types::CashBalance]| {
        balances
            .iter()
            .find(|b| b.currency == sophic::types::Currency::Usd)
            .map_or(rust_decimal::Decimal::ZERO, |b| b.available)
    };
    // Nearly all the cash, so that the rollover's debit takes it below zero.
    let mut spend = (usd(&balances) * rust_decimal::Decimal::new(99, 2))
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::ToZero);
    spend.rescale(2);
    let cash: Amount = spend
        .to_string()
        .parse()
        .map_err(|_| Failure::Unexpected(format!("the account has too little USD ({spend})")))?;
    say(format!(
        "1. Buy {cash} of {} ({}) with automatic rollover; it matures on {maturity}",
        bill.name, bill.id
    ));
    let instrument: InstrumentId = bill.id.parse().expect("an instrument id");
    let buy = orders
        .place(OrderRequest::buy(&instrument, cash).automatic_rollover(true))
        .send()
        .await?;
    say(placed(&buy));
    let buy = follow(&orders, &buy.order_id(), None, TIMEOUT, out).await?;
    say(format!(
        "   {}: {} units at {}\n",
        out.status(&buy.status),
        buy.traded_quantity,
        buy.trades
            .first()
            .map_or("-".into(), |t| t.price.to_string())
    ));

    // The rollover happens on a business day before maturity (the sandbox owns that rule);
    // the evening before maturity is after it whatever the calendar, and before the payout.
    let eve = maturity.and_hms_opt(0, 0, 0).expect("a time").and_utc() - TimeDelta::hours(1);
    let advance = |to: DateTime<Utc>| {
        let base = base.clone();
        async move {
            let now = super::sandbox::call(&base, "GET", "/clock", None).await?;
            let now: DateTime<Utc> = now["now"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(to);
            let seconds = (to - now).num_seconds().max(0);
            super::sandbox::call(
                &base,
                "POST",
                "/clock/advance",
                Some(json!({"seconds": seconds})),
            )
            .await
        }
    };
    let at = |day: chrono::NaiveDate| day.and_hms_opt(1, 0, 0).expect("a time").and_utc();
    say(format!(
        "2. Move the clock to {eve}, after the rollover and before the payout"
    ));
    advance(eve).await?;
    let all: Vec<Order> = orders.list().stream().take(20).try_collect().await?;
    let rolled: Vec<Order> = all
        .iter()
        .filter(|o| o.purpose == OrderPurpose::Rollover)
        .cloned()
        .collect();
    let balances = target.client.account(account).cash_balances().await?;
    say(format!(
        "{}\n{}\n",
        out.orders(&rolled),
        out.balances(&balances)
    ));

    say(format!(
        "3. Move the clock past maturity, to {maturity} 01:00 UTC"
    ));
    advance(at(maturity)).await?;
    let positions = target.client.account(account).positions().await?;
    let after = target.client.account(account).cash_balances().await?;
    let matured: Vec<_> = target
        .client
        .events()
        .list()
        .name(sophic::types::EventName::PositionMatured)
        .stream()
        .take(5)
        .try_collect()
        .await?;
    say(format!(
        "{}\n{}\n{}",
        out.positions(&positions),
        out.balances(&after),
        out.events(&matured)
    ));
    say(format!(
        "\nDone in {:.1} s.",
        started.elapsed().as_secs_f64()
    ));
    if out.json {
        out.json(&json!({"buy": buy, "rollover": rolled, "cash_after_rollover": balances, "positions": positions, "balances": after, "matured": matured}));
    }
    Ok(())
}

fn placed(order: &Order) -> String {
    let amounts = match (order.cash_amount, order.net_cash_amount) {
        (Some(cash), Some(net)) => format!("cash {cash}, fees {}, net {net}", order.fees),
        _ => format!(
            "quantity {}",
            order.quantity.map_or("-".into(), |q| q.to_string())
        ),
    };
    format!(
        "   placed {} ({} {}): {amounts}",
        order.id, order.side, order.currency
    )
}
