//! The client over real HTTP against small servers on loopback: retries, idempotency keys,
//! tokens, paging, waiting, tracing and redaction.

mod auth;
mod endpoints;
mod paging;
mod redaction;
mod retries;
mod support;
mod tracing_spans;
mod wait;
