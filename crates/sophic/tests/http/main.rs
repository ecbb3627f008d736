//! The client over real HTTP against small servers on loopback: retries, idempotency keys,
//! tokens, paging, waiting and redaction. Tracing has a binary of its own,
//! `tests/tracing_spans.rs`, since it installs the global subscriber.

mod auth;
mod endpoints;
mod paging;
mod redaction;
mod retries;
mod support;
mod wait;
