//! Balances under concurrency: many simultaneous buys against cash for exactly K of them.

mod common;

use common::{Env, buy};
use futures::future::join_all;
use sophic_sandbox::AccountSpec;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_buys_accept_exactly_as_many_as_the_cash_covers() {
    const K: usize = 37;
    const N: usize = 120;
    let env = Env::with_account(AccountSpec::usd(&format!("{}.00", K * 25))).await;
    let answers = join_all((0..N).map(|_| env.place(buy("ins_xyz789", "25.00")))).await;
    let accepted = answers.iter().filter(|a| a.status == 201).count();
    let refused = answers
        .iter()
        .filter(|a| a.code() == "insufficient_funds")
        .count();
    assert_eq!((accepted, refused), (K, N - K));
    assert_eq!(
        env.usd().await,
        (
            format!("{}.00", K * 25),
            "0.00".into(),
            format!("{}.00", K * 25)
        )
    );

    env.sandbox.settle();
    // Each buy: fees 0.13 (0.125 half-up), net 24.87 → 25.12 units at 0.99, notional 24.87.
    let (total, available, reserved) = env.usd().await;
    assert_eq!(
        (available.as_str(), reserved.as_str()),
        (total.as_str(), "0.00")
    );
    assert_eq!(total, "0.00");
    assert_eq!(
        env.units("ins_xyz789").await.0,
        format!(
            "{}",
            rust_decimal::Decimal::new(2512, 2) * rust_decimal::Decimal::from(K)
        )
    );
    assert!(
        env.sandbox.broken_invariants().is_empty(),
        "{:?}",
        env.sandbox.broken_invariants()
    );
}
