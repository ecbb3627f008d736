//! What people and scripts see: tables with aligned amounts and coloured statuses for
//! people, the API's own JSON for scripts.

use std::io::IsTerminal;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use owo_colors::OwoColorize;
use rust_decimal::Decimal;
use serde::Serialize;
use sophic::types::{
    CashBalance, Event, Instrument, Order, OrderStatus, Position, Webhook, WebhookDelivery,
    exhaustive,
};

/// How to print.
pub struct Output {
    pub json: bool,
    color: bool,
}

impl Output {
    /// Colour only on a terminal, and never with `--no-color` or `NO_COLOR`.
    pub fn new(json: bool, no_color: bool) -> Self {
        let color =
            !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        Self { json, color }
    }

    /// Prints `value` as pretty JSON (the wire form: decimals stay strings).
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("API types serialize")
        );
    }

    /// Prints the JSON form with `--json`, the human form otherwise.
    pub fn show<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            self.json(value);
        } else {
            println!("{}", human());
        }
    }

    /// `error` in red on a terminal.
    pub fn error_label(&self) -> String {
        let stderr_color = self.color && std::io::stderr().is_terminal();
        if stderr_color {
            "error".red().bold().to_string()
        } else {
            "error".to_string()
        }
    }

    /// A status, coloured by where it is in the lifecycle.
    pub fn status(&self, status: &OrderStatus) -> String {
        let text = status.to_string();
        if !self.color {
            return text;
        }
        match status.exhaustive() {
            exhaustive::OrderStatus::Settled => text.green().bold().to_string(),
            exhaustive::OrderStatus::Filled => text.green().to_string(),
            exhaustive::OrderStatus::Cancelled => text.red().to_string(),
            exhaustive::OrderStatus::Executing => text.cyan().to_string(),
            exhaustive::OrderStatus::Placed | exhaustive::OrderStatus::Pending => {
                text.yellow().to_string()
            }
            // A status this CLI does not know: plain, not dressed as one it does.
            exhaustive::OrderStatus::Unknown(_) => text,
        }
    }

    fn table(&self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(UTF8_BORDERS_ONLY)
            .set_content_arrangement(ContentArrangement::Disabled);
        table.set_header(header.iter().map(Cell::new));
        table
    }

    /// Orders, one a row.
    pub fn orders(&self, orders: &[Order]) -> String {
        if orders.is_empty() {
            return "no orders".into();
        }
        let mut table = self.table(&[
            "ID",
            "SIDE",
            "INSTRUMENT",
            "STATUS",
            "CASH",
            "QUANTITY",
            "FEES",
            "TRADED",
            "CREATED",
        ]);
        for o in orders {
            table.add_row(vec![
                Cell::new(&o.id),
                Cell::new(o.side.to_string()),
                Cell::new(&o.instrument.symbol),
                Cell::new(self.status(&o.status)),
                amount(o.cash_amount),
                amount(o.quantity),
                amount(Some(o.fees)),
                amount(Some(o.traded_quantity)),
                Cell::new(o.created_at.format("%Y-%m-%d %H:%M:%S").to_string()),
            ]);
        }
        align_amounts(&mut table, 4..8);
        table.to_string()
    }

    /// One order in detail, with its trades.
    pub fn order(&self, o: &Order) -> String {
        let mut table = self.table(&["FIELD", "VALUE"]);
        let rows: Vec<(&str, String)> = vec![
            ("id", o.id.clone()),
            ("status", self.status(&o.status)),
            ("side", o.side.to_string()),
            (
                "instrument",
                format!(
                    "{} ({}, {})",
                    o.instrument.name, o.instrument.symbol, o.instrument.id
                ),
            ),
            ("currency", o.currency.to_string()),
            ("cash amount", opt(o.cash_amount)),
            ("fees", o.fees.to_string()),
            ("net cash amount", opt(o.net_cash_amount)),
            ("quantity", opt(o.quantity)),
            ("traded quantity", o.traded_quantity.to_string()),
            ("traded notional", o.traded_notional.to_string()),
            ("automatic rollover", o.automatic_rollover.to_string()),
            ("created", ts(o.created_at)),
            ("filled", o.filled_at.map_or("-".into(), ts)),
            ("settled", o.settled_at.map_or("-".into(), ts)),
            ("cancelled", o.cancelled_at.map_or("-".into(), ts)),
            (
                "cancelled reason",
                o.cancelled_reason
                    .as_ref()
                    .map_or("-".into(), |r| r.to_string()),
            ),
        ];
        for (field, value) in rows {
            table.add_row(vec![Cell::new(field), Cell::new(value)]);
        }
        let mut text = table.to_string();
        if !o.trades.is_empty() {
            let mut trades =
                self.table(&["TRADE", "STATUS", "PRICE", "QUANTITY", "NOTIONAL", "AT"]);
            for t in &o.trades {
                trades.add_row(vec![
                    Cell::new(&t.id),
                    Cell::new(t.status.to_string()),
                    amount(Some(t.price)),
                    amount(Some(t.quantity)),
                    amount(Some(t.notional)),
                    Cell::new(ts(t.created_at)),
                ]);
            }
            align_amounts(&mut trades, 2..5);
            text.push('\n');
            text.push_str(&trades.to_string());
        }
        text
    }

    /// Instruments, one a row.
    pub fn instruments(&self, instruments: &[Instrument]) -> String {
        let mut table = self.table(&[
            "ID", "SYMBOL", "NAME", "TYPE", "CCY", "STATUS", "MATURITY", "ROLLOVER", "PRO ONLY",
        ]);
        for i in instruments {
            table.add_row(vec![
                Cell::new(&i.id),
                Cell::new(&i.symbol),
                Cell::new(&i.name),
                Cell::new(i.instrument_type.to_string()),
                Cell::new(
                    i.trading_currency
                        .as_ref()
                        .map_or("-".into(), |c| c.to_string()),
                ),
                Cell::new(
                    i.trading_status
                        .as_ref()
                        .map_or("-".into(), |s| s.to_string()),
                ),
                Cell::new(i.maturity_date.map_or("-".into(), |d| d.to_string())),
                Cell::new(yes_no(i.supports_automatic_rollover)),
                Cell::new(yes_no(i.pro_traders_only)),
            ]);
        }
        table.to_string()
    }

    /// One instrument with its trading rules.
    pub fn instrument(&self, i: &Instrument) -> String {
        let value = serde_json::to_value(i).expect("instruments serialize");
        let mut table = self.table(&["FIELD", "VALUE"]);
        for (field, v) in value.as_object().into_iter().flatten() {
            let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            table.add_row(vec![Cell::new(field.replace('_', " ")), Cell::new(shown)]);
        }
        table.to_string()
    }

    /// Cash balances, amounts aligned.
    pub fn balances(&self, balances: &[CashBalance]) -> String {
        if balances.is_empty() {
            return "no cash balances".into();
        }
        let mut table = self.table(&["CURRENCY", "TOTAL", "AVAILABLE", "RESERVED"]);
        for b in balances {
            table.add_row(vec![
                Cell::new(b.currency.to_string()),
                amount(Some(b.total)),
                amount(Some(b.available)),
                amount(Some(b.reserved)),
            ]);
        }
        align_amounts(&mut table, 1..4);
        table.to_string()
    }

    /// Positions, quantities aligned.
    pub fn positions(&self, positions: &[Position]) -> String {
        if positions.is_empty() {
            return "no positions".into();
        }
        let mut table = self.table(&[
            "POSITION",
            "INSTRUMENT",
            "QUANTITY",
            "AVAILABLE",
            "MATURITY",
            "ROLLOVER",
        ]);
        for p in positions {
            let maturity = p.instrument.maturity_date.map(|d| d.to_string());
            table.add_row(vec![
                Cell::new(&p.id),
                Cell::new(format!("{} ({})", p.instrument.symbol, p.instrument.id)),
                amount(Some(p.quantity)),
                amount(Some(p.available_quantity)),
                Cell::new(maturity.as_deref().unwrap_or("-")),
                Cell::new(yes_no(Some(p.automatic_rollover))),
            ]);
        }
        align_amounts(&mut table, 2..4);
        table.to_string()
    }

    /// Events, one a row.
    pub fn events(&self, events: &[Event]) -> String {
        if events.is_empty() {
            return "no events".into();
        }
        let mut table = self.table(&["EVENT", "NAME", "RESOURCE", "AT"]);
        for e in events {
            table.add_row(vec![
                Cell::new(&e.id),
                Cell::new(e.name.to_string()),
                Cell::new(&e.resource.id),
                Cell::new(ts(e.created_at)),
            ]);
        }
        table.to_string()
    }

    /// A webhook (and its secret, the one time there is one).
    pub fn webhook(&self, w: &Webhook, secret: Option<&str>) -> String {
        let mut table = self.table(&["FIELD", "VALUE"]);
        let events = if w.enabled_events.is_empty() {
            "all".to_string()
        } else {
            w.enabled_events
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (field, value) in [
            ("id", w.id.clone()),
            ("url", w.url.clone()),
            ("events", events),
            ("disabled", w.disabled.to_string()),
            (
                "description",
                w.description.clone().unwrap_or_else(|| "-".into()),
            ),
        ] {
            table.add_row(vec![Cell::new(field), Cell::new(value)]);
        }
        let mut text = table.to_string();
        if let Some(secret) = secret {
            text.push_str(&format!(
                "\nsigning secret (shown once, store it now): {secret}"
            ));
        }
        text
    }

    /// A webhook delivery.
    pub fn delivery(&self, d: &WebhookDelivery) -> String {
        format!(
            "delivery {} to {} is {} ({} attempt(s))",
            d.id,
            d.webhook,
            d.status,
            d.attempts.len()
        )
    }
}

/// An instant as RFC 3339 UTC with `Z` (`2026-03-12T14:30:00Z`).
fn ts(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn amount(value: Option<Decimal>) -> Cell {
    Cell::new(value.map_or("-".into(), |v| v.to_string()))
}

fn opt(value: Option<Decimal>) -> String {
    value.map_or("-".into(), |v| v.to_string())
}

fn yes_no(flag: Option<bool>) -> &'static str {
    match flag {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

fn align_amounts(table: &mut Table, columns: std::ops::Range<usize>) {
    for index in columns {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}
