//! What the sandbox's front door pays to find the operation of a request that carries a
//! body (its media type and limit come from the spec's tables): `Operation::find` over
//! `sophic_client::OPERATIONS` for a placement, and over the sandbox's control table for
//! the last control operation. A placement costs the sandbox about 90 µs of CPU; this is
//! paid once per request with a body.

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
