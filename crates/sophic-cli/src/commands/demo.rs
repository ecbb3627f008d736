//! `sophic demo`: the whole journey — buy 100.00 of Kenya 2024 Bond A, follow it to
//! settlement, look at the position and cash, sell the units back, list the orders.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use sophic::orders::{OrderExt as _, OrderRequest};
use sophic::types::Order;
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
