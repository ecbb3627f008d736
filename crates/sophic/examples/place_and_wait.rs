//! Places a buy of 100.00 of `ins_xyz789` and waits for it to settle, printing each status.
//!
//! ```sh
//! SOPHIC_BASE_URL=http://127.0.0.1:8080 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_123456 \
//!     cargo run -p sophic --example place_and_wait
//! ```

use sophic::prelude::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::builder()
        .base_url(env("SOPHIC_BASE_URL")?)
        .token(env("SOPHIC_TOKEN")?)
        .build()?;
    let orders = client.orders(&env("SOPHIC_ACCOUNT")?.parse()?);

    let instrument: InstrumentId = "ins_xyz789".parse()?;
    let order = orders
        .place(OrderRequest::buy(&instrument, "100.00".parse()?))
        .await?;
    println!("placed {} ({} in fees)", order.id, order.fees);

    let mut changes = orders.status_changes(&order.order_id());
    while let Some(order) = changes.try_next().await? {
        println!("{}: {}", order.id, order.status);
    }

    let settled = orders.wait_for_order(&order.order_id()).await?;
    println!(
        "{} {}: {} units for {} {}",
        settled.id,
        settled.status,
        settled.traded_quantity,
        settled.traded_notional,
        settled.currency
    );
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("set {name}"))
}
