//! Each call is traced with its operation, attempts, status, request id and duration.
//!
//! A test binary of its own, with this one test: it installs the process's global
//! subscriber, and no other test may hit the SDK's callsites (caching their interest as
//! "never", with no subscriber yet) on another thread while it does.

#[allow(dead_code)]
#[path = "http/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::support::{Canned, client, order, scripted};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_call_span_records_operation_attempts_status_and_request_id() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    // Global, and installed before any callsite of the SDK, reqwest or the server is hit.
    // This binary runs no other test, so nothing registered a callsite under the no-op
    // dispatcher before; the cache is rebuilt all the same, so that no interest cached
    // before the install (say by the test harness or the runtime) can outlive it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    tracing::callsite::rebuild_interest_cache();
    let (server, _script) = scripted([
        Canned::error(503, "internal_error"),
        Canned::json(200, order("ord_abc123", "placed")).header("request-id", "req_traced"),
    ]);

    client(&server)
        .orders(&"acc_1".parse().unwrap())
        .get(&"ord_abc123".parse::<sophic::OrderId>().unwrap())
        .await
        .unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let close = log
        .lines()
        .find(|line| line.contains("req_traced") && line.contains("close"))
        .unwrap_or_else(|| panic!("no span close in:\n{log}"));
    for field in [
        "operation=\"get_order\"",
        "attempts=2",
        "status=200",
        "request_id=\"req_traced\"",
        "duration_ms=",
    ] {
        assert!(close.contains(field), "{field} missing from {close}");
    }
    assert!(
        log.lines()
            .any(|line| line.contains("retrying") && line.contains("operation=\"get_order\"")),
        "{log}"
    );
}
