//! Cancels an order given on the command line, explaining a refusal.
//!
//! ```sh
//! SOPHIC_BASE_URL=http://127.0.0.1:8080 SOPHIC_TOKEN=... SOPHIC_ACCOUNT=acc_123456 \
//!     cargo run -p sophic --example cancel -- ord_abc123
//! ```

use sophic::prelude::*;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::builder()
        .base_url(env("SOPHIC_BASE_URL")?)
        .token(env("SOPHIC_TOKEN")?)
        .build()?;
    let account: AccountId = env("SOPHIC_ACCOUNT")?.parse()?;
    let order: OrderId = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: cancel <ord_…>"))?
        .parse()?;

    match client.orders(&account).cancel(&order).await {
        Ok(order) => println!(
            "{} is {} ({})",
            order.id,
            order.status,
            order
                .cancelled_reason
                .map_or_else(|| "no reason".to_owned(), |reason| reason.to_string())
        ),
        Err(err) if err.is_not_cancellable() => {
            println!("{order} is already filled or settled; nothing to cancel");
        }
        Err(err) => return Err(err.into()),
    }
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("set {name}"))
}
