//! The client over real HTTP against small servers on loopback: retries, idempotency keys,
//! unknown outcomes, tokens, paging, waiting, redaction, and the refusal of credentials in
//! clear text. Tracing has a binary of its own, `tests/tracing_spans.rs`, since it installs
//! the global subscriber.

mod auth;
mod clear_text;
mod endpoints;
mod outcomes;
mod paging;
mod per_call;
mod redaction;
mod retries;
mod support;
mod wait;
