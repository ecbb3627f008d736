//! The request journal: every API request the sandbox answered, oldest first, the last
//! [`crate::limits::MAX_JOURNAL_REQUESTS`] kept, so a test can ask what an application
//! actually sent (that its retry reused one idempotency key, that it never sent a token
//! in a query). `GET /sandbox/requests` and [`crate::Sandbox::requests`] read it.
//!
//! A request costs what it must: its parts are kept as the shared bytes they arrived in,
//! and become text only when the journal is read.

use std::collections::VecDeque;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::limits::MAX_JOURNAL_REQUESTS;

/// One answered request, as the journal shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When it was answered, by the sandbox's clock.
    pub at: DateTime<Utc>,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, as sent.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The spec's `operationId` (`unknown` for a path the spec does not have).
    pub operation: String,
    /// The answer's status.
    pub status: u16,
    /// The answer's `Request-Id`.
    pub request_id: String,
    /// The `Idempotency-Key` it carried.
    pub idempotency_key: Option<String>,
    /// The order it placed, read, cancelled or replayed, if any.
    pub order_id: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Authorization` with its credentials redacted (`Bearer …`).
    pub authorization: Option<String>,
    /// Handled, then its connection dropped before the answer (a `drop_connection`
    /// fault): the client saw no status and no request id.
    #[serde(default)]
    pub dropped: bool,
}

/// What the sandbox made of a request.
pub(crate) struct Answered {
    /// The spec's `operationId`.
    pub operation: &'static str,
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's `Request-Id`.
    pub request_id: HeaderValue,
    /// The order, when the handler said.
    pub order_id: Option<String>,
    /// The connection was dropped instead of answering.
    pub dropped: bool,
}

/// A request's id, known before it is handled (a dropped request's record has it too).
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub HeaderValue);

/// What a request's handler knew that the journal wants: the order it concerned.
#[derive(Clone, Debug)]
pub(crate) struct OrderRef(pub String);

/// The operation a request was routed to (set by the fault layer, which knows it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OperationRef(pub &'static str);

/// A request as kept: cheap clones of what arrived.
#[derive(Debug)]
struct Entry {
    at: DateTime<Utc>,
    method: Method,
    uri: Uri,
    operation: &'static str,
    status: StatusCode,
    request_id: HeaderValue,
    idempotency_key: Option<HeaderValue>,
    order_id: Option<String>,
    user_agent: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
    dropped: bool,
}

/// The parts of a request kept before it is handled.
pub(crate) struct Arrived {
    method: Method,
    uri: Uri,
    idempotency_key: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    content_type: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
}

impl Arrived {
    /// What the journal keeps of a request, taken before it is handled.
    pub(crate) fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).cloned();
        Self {
            method: method.clone(),
            uri: uri.clone(),
            idempotency_key: get(sophic_client::headers::IDEMPOTENCY_KEY),
            user_agent: get(header::USER_AGENT.as_str()),
            content_type: get(header::CONTENT_TYPE.as_str()),
            authorization: get(header::AUTHORIZATION.as_str()),
        }
    }
}

/// Which records [`Journal::matching`] returns; every field given must match.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    /// The method.
    pub method: Option<String>,
    /// The path, exactly.
    pub path: Option<String>,
    /// The `operationId`.
    pub operation: Option<String>,
    /// The status.
    pub status: Option<u16>,
    /// The `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// The order.
    pub order_id: Option<String>,
    /// At most this many, the latest (default: all kept).
    pub limit: Option<usize>,
}

/// The journal.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: VecDeque<Entry>,
}

fn text(value: &Option<HeaderValue>) -> Option<String> {
    value
        .as_ref()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `Authorization` without its credentials: the scheme and an ellipsis.
fn redacted(value: &Option<HeaderValue>) -> Option<String> {
    let value = value.as_ref()?;
    let scheme = String::from_utf8_lossy(value.as_bytes())
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    Some(format!("{scheme} …"))
}

impl Entry {
    fn record(&self) -> RequestRecord {
        RequestRecord {
            at: self.at,
            method: self.method.to_string(),
            path: self.uri.path().to_string(),
            query: self.uri.query().map(str::to_string),
            operation: self.operation.to_string(),
            status: self.status.as_u16(),
            request_id: String::from_utf8_lossy(self.request_id.as_bytes()).into_owned(),
            idempotency_key: text(&self.idempotency_key),
            order_id: self.order_id.clone(),
            user_agent: text(&self.user_agent),
            content_type: text(&self.content_type),
            authorization: redacted(&self.authorization),
            dropped: self.dropped,
        }
    }

    fn matches(&self, filter: &RequestFilter) -> bool {
        let same = |want: &Option<String>, have: Option<&[u8]>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| h == w.as_bytes()))
        };
        same(&filter.method, Some(self.method.as_str().as_bytes()))
            && same(&filter.path, Some(self.uri.path().as_bytes()))
            && same(&filter.operation, Some(self.operation.as_bytes()))
            && filter.status.is_none_or(|s| s == self.status.as_u16())
            && same(
                &filter.idempotency_key,
                self.idempotency_key.as_ref().map(HeaderValue::as_bytes),
            )
            && same(
                &filter.order_id,
                self.order_id.as_deref().map(str::as_bytes),
            )
    }
}

impl Journal {
    /// Keeps one answered request, forgetting the oldest past the bound.
    pub(crate) fn keep(&mut self, arrived: Arrived, at: DateTime<Utc>, answered: Answered) {
        let Answered {
            operation,
            status,
            request_id,
            order_id,
            dropped,
        } = answered;
        if self.entries.len() >= MAX_JOURNAL_REQUESTS {
            self.entries.pop_front();
        }
        // The order a path names, when the handler did not say.
        let order_id = order_id.or_else(|| {
            let path = arrived.uri.path();
            let at = path.find("/orders/")?;
            let id = path[at + "/orders/".len()..].split('/').next()?;
            id.starts_with("ord_").then(|| id.to_string())
        });
        self.entries.push_back(Entry {
            at,
            method: arrived.method,
            uri: arrived.uri,
            operation,
            status,
            request_id,
            idempotency_key: arrived.idempotency_key,
            order_id,
            user_agent: arrived.user_agent,
            content_type: arrived.content_type,
            authorization: arrived.authorization,
            dropped,
        });
    }

    /// The records `filter` matches, oldest first (the latest `limit` of them).
    pub(crate) fn matching(&self, filter: &RequestFilter) -> Vec<RequestRecord> {
        let matched: Vec<&Entry> = self.entries.iter().filter(|e| e.matches(filter)).collect();
        let skip = filter
            .limit
            .map_or(0, |limit| matched.len().saturating_sub(limit));
        matched[skip..].iter().map(|e| e.record()).collect()
    }

    /// Forgets every record.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_the_latest_and_names_the_order_a_path_names() {
        let mut journal = Journal::default();
        let at: DateTime<Utc> = "2026-03-12T14:30:00Z".parse().unwrap();
        for n in 0..=MAX_JOURNAL_REQUESTS {
            let uri: Uri = format!("/accounts/acc_1/orders/ord_{n}/cancel")
                .parse()
                .unwrap();
            let arrived = Arrived::of(&Method::POST, &uri, &HeaderMap::new());
            let id = HeaderValue::from_str(&format!("req_{n}")).unwrap();
            let answered = Answered {
                operation: "cancel_order",
                status: StatusCode::OK,
                request_id: id,
                order_id: None,
                dropped: false,
            };
            journal.keep(arrived, at, answered);
        }
        let all = journal.matching(&RequestFilter::default());
        assert_eq!(all.len(), MAX_JOURNAL_REQUESTS);
        assert_eq!(all[0].request_id, "req_1", "the oldest went first");
        assert_eq!(all[0].order_id.as_deref(), Some("ord_1"));
        let last = journal.matching(&RequestFilter {
            limit: Some(1),
            ..RequestFilter::default()
        });
        assert_eq!(last[0].request_id, format!("req_{MAX_JOURNAL_REQUESTS}"));
    }
}
