//! Benchmarks of the Sophic SDK against what a user would otherwise pick: each one runs the
//! alternative in the same process, on the same machine, and reports a ratio. The figures
//! and how to reproduce them are in `BENCHMARKS.md`; why they are built this way is in
//! `docs/decisions/0006-benchmarks.md`.
//!
//! | benchmark | ours | the alternative |
//! |---|---|---|
//! | `benches/client_overhead.rs` | a placement through `sophic` and `sophic-client` | `reqwest` + `serde_json` by hand |
//! | `benches/decode_orders.rs` | 1,000 orders into the generated `Order` | a minimal hand-written struct |
//! | `src/bin/loadgen.rs` (`scripts/bench-load.sh`) | the sandbox binary | Prism mocking the same spec |
//!
//! This library holds what the benchmarks share: the fixtures, the hand-written
//! alternatives, the load generator's engine and the ratio report.

pub mod fixtures;
pub mod handwritten;
pub mod load;
pub mod report;
