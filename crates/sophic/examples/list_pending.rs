//! Lists the account's pending orders (placed, pending or executing), newest first.
//!
//! ```sh
//! SOPHIC_BASE_URL=http://127.0.0.1:8080 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_123456 \
//!     cargo run -p sophic --example list_pending
//! ```

use sophic::prelude::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::builder()
        .base_url(env("SOPHIC_BASE_URL")?)
        .token(env("SOPHIC_TOKEN")?)
        .build()?;
    let account: AccountId = env("SOPHIC_ACCOUNT")?.parse()?;

    let mut pending = client
        .orders(&account)
        .list_pending()
        .page_size(50)
        .stream();
    let mut count = 0;
    while let Some(order) = pending.try_next().await? {
        count += 1;
        let amount = match (&order.cash_amount, &order.quantity) {
            (Some(cash), _) => format!("{cash} {}", order.currency),
            (None, Some(units)) => format!("{units} units"),
            (None, None) => "-".to_owned(),
        };
        println!(
            "{:<24} {:<4} {:<10} {:<10} {}",
            order.id, order.side, order.status, order.instrument.symbol, amount
        );
    }
    println!("{count} pending");
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("set {name}"))
}
