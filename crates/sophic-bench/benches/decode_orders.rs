//! Decoding a list of 1,000 orders (the spec's settled-buy example, varied) into the
//! generated `Vec<Order>`, against a minimal hand-written struct of the fields a caller
//! reads. Target: generated within 10% of the minimal struct.
//!
//! For context: a hand-written struct of the same model (every field of the order and its
//! trades, the embedded instrument's optional fields, closed enums), which separates the
//! cost of decoding every field from the cost of the generated types themselves; and
//! `serde_json::Value`.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, SamplingMode, Throughput};
use sophic_bench::fixtures::{ORDER_COUNT, order_list_json};
use sophic_bench::handwritten::{EveryFieldOrder, MinimalOrder};
use sophic_bench::report::{self, Contender, Rounds};
use sophic_client::types::Order;

const GROUP: &str = "decode_orders";
const BASELINE: &str = "minimal_struct";
const CONTENDERS: [Contender; 3] = [
    Contender::within("generated_order", 1.10),
    Contender::context("every_field_struct"),
    Contender::context("serde_json_value"),
];

/// Decodes `body` as contender `which` wants it.
fn decode_as(which: usize, body: &[u8]) {
    match which {
        0 => drop(decode::<MinimalOrder>(body)),
        1 => drop(decode::<Order>(body)),
        2 => drop(decode::<EveryFieldOrder>(body)),
        _ => drop(decode::<serde_json::Value>(body)),
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Vec<T> {
    let orders: Vec<T> = serde_json::from_slice(black_box(body)).expect("the fixture decodes");
    assert_eq!(orders.len(), ORDER_COUNT);
    orders
}

fn decode_orders(c: &mut Criterion, body: &[u8]) {
    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    let names = std::iter::once(BASELINE).chain(CONTENDERS.iter().map(|c| c.function));
    for (which, name) in names.enumerate() {
        group.bench_function(name, |b| b.iter(|| decode_as(which, body)));
    }
    group.finish();
}

fn main() {
    let body = order_list_json(ORDER_COUNT);
    println!(
        "decode_orders: {ORDER_COUNT} orders, {} bytes of JSON",
        body.len()
    );
    let started = SystemTime::now();
    let mut criterion = report::criterion();
    decode_orders(&mut criterion, &body);
    criterion.final_summary();
    report::print_ratios(GROUP, BASELINE, &CONTENDERS, started);
    report::paired(
        GROUP,
        BASELINE,
        &CONTENDERS,
        Rounds::new(20, 5),
        |which, calls| {
            for _ in 0..calls {
                decode_as(which, &body);
            }
        },
    );
}
