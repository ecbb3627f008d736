//! What the sandbox's front door pays to find a request's operation: `Operation::find`
//! over `sophic_client::OPERATIONS` for a placement and for `GET /instruments/{id}` (every
//! Orders API request pays it once: its parameters, faults and journal entry go by it;
//! a GET costs the sandbox about 6.5 µs in all), and over the sandbox's control table for
//! the last control operation (paid by a control request with a body).

use std::hint::black_box;

use sophic_bench::report;
use sophic_client::{OPERATIONS, Operation};

fn main() {
    let mut criterion = report::criterion();
    let mut group = criterion.benchmark_group("operation_lookup");
    group.bench_function("place_order", |b| {
        b.iter(|| {
            Operation::find(
                black_box(OPERATIONS),
                black_box("POST"),
                black_box("/accounts/acc_7Hq2Lm9Xw4Rt/orders"),
            )
        });
    });
    group.bench_function("get_instrument", |b| {
        b.iter(|| {
            Operation::find(
                black_box(OPERATIONS),
                black_box("GET"),
                black_box("/instruments/ins_xyz789"),
            )
        });
    });
    group.bench_function("import_state", |b| {
        b.iter(|| {
            Operation::find(
                black_box(sophic_sandbox::CONTROL_OPERATIONS),
                black_box("PUT"),
                black_box("/sandbox/state"),
            )
        });
    });
    group.finish();
    criterion.final_summary();
}
