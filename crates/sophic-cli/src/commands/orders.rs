//! `sophic orders …`

use std::io::IsTerminal;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use sophic::orders::{OrderRequest, OrderStatusExt, OrdersHandler};
use sophic::types::{Order, OrderSide, OrderStatus};
use sophic::{Amount, InstrumentId, OrderId, Quantity};

use super::parse;
use crate::args::{ListOrdersArgs, OrdersCommand};
use crate::failure::Failure;
use crate::output::Output;
use crate::target::Target;

pub async fn run(command: OrdersCommand, target: &Target, out: &Output) -> Result<(), Failure> {
    let orders = target.client.orders(target.account()?);
    match command {
        OrdersCommand::Buy {
            instrument,
            cash,
            automatic_rollover,
            idempotency_key,
            quiet,
        } => {
            let instrument: InstrumentId = parse("--instrument", &instrument)?;
            let cash: Amount = parse("--cash", &cash)?;
            let request =
                OrderRequest::buy(&instrument, cash).automatic_rollover(automatic_rollover);
            let order = place(&orders, request.into(), idempotency_key).await?;
            placed(out, &order, quiet);
        }
        OrdersCommand::Sell {
            instrument,
            quantity,
            idempotency_key,
            quiet,
        } => {
            let instrument: InstrumentId = parse("--instrument", &instrument)?;
            let quantity: Quantity = parse("--quantity", &quantity)?;
            let order = place(
                &orders,
                OrderRequest::sell(&instrument, quantity).into(),
                idempotency_key,
            )
            .await?;
            placed(out, &order, quiet);
        }
        OrdersCommand::Get { order } => {
            let order = orders.get(&parse("order", &order)?).await?;
            out.show(&order, || out.order(&order));
        }
        OrdersCommand::List(args) => {
            let list = list(&orders, &args).await?;
            out.show(&list, || out.orders(&list));
        }
        OrdersCommand::Cancel { order } => {
            let order = orders.cancel(&parse("order", &order)?).send().await?;
            out.show(&order, || out.order(&order));
        }
        OrdersCommand::Wait {
            order,
            until,
            timeout,
        } => {
            let id: OrderId = parse("order", &order)?;
            let until = until
                .map(|s| parse::<OrderStatus>("--until", &s))
                .transpose()?;
            let order = follow(&orders, &id, until, Duration::from_secs(timeout), out).await?;
            if out.json {
                out.json(&order);
            }
        }
    }
    Ok(())
}

/// Shows a placed order: its id alone with `--quiet`.
fn placed(out: &Output, order: &Order, quiet: bool) {
    if quiet {
        println!("{}", order.id);
    } else {
        out.show(order, || out.order(order));
    }
}

async fn place(
    orders: &OrdersHandler,
    request: OrderRequest,
    key: Option<String>,
) -> Result<Order, Failure> {
    let mut place = orders.place(request);
    if let Some(key) = key {
        place = place.idempotency_key(key);
    }
    Ok(place.send().await?)
}

async fn list(orders: &OrdersHandler, args: &ListOrdersArgs) -> Result<Vec<Order>, Failure> {
    let page = u32::try_from(args.limit.clamp(1, 500)).unwrap_or(500);
    let stream = if args.pending {
        orders.list_pending().page_size(page).stream()
    } else {
        let mut list = orders.list().page_size(page);
        for status in &args.status {
            list = list.status(parse("--status", status)?);
        }
        if let Some(instrument) = &args.instrument {
            list = list.instrument(&parse("--instrument", instrument)?);
        }
        if let Some(side) = &args.side {
            list = list.side(parse::<OrderSide>("--side", side)?);
        }
        if let Some(since) = &args.since {
            list = list.created_gte(parse("--since", since)?);
        }
        if let Some(before) = &args.before {
            list = list.created_lt(parse("--before", before)?);
        }
        list.stream()
    };
    Ok(stream.take(args.limit).try_collect().await?)
}

/// Follows an order until it is terminal (or reaches `until`), showing each status change:
/// a spinner on a terminal, one line per change otherwise. Returns the last order seen.
pub async fn follow(
    orders: &OrdersHandler,
    id: &OrderId,
    until: Option<OrderStatus>,
    timeout: Duration,
    out: &Output,
) -> Result<Order, Failure> {
    let spinner = (!out.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(80));
        bar
    });
    let mut trail: Vec<String> = Vec::new();
    let mut changes = orders.wait_for_order(id).timeout(timeout).status_changes();
    let mut last = None;
    while let Some(order) = changes.try_next().await? {
        trail.push(out.status(&order.status));
        let line = format!("{id}: {}", trail.join(" → "));
        match &spinner {
            Some(bar) => bar.set_message(line),
            None if !out.json => println!(
                "  {} {}",
                order.modified_at.format("%H:%M:%S"),
                out.status(&order.status)
            ),
            None => {}
        }
        let done = order.status.has_reached(until.as_ref());
        last = Some(order);
        if done {
            break;
        }
    }
    if let Some(bar) = spinner {
        bar.finish_with_message(format!("{id}: {}", trail.join(" → ")));
    }
    last.ok_or_else(|| Failure::Unexpected("the order's status could not be read".into()))
}
