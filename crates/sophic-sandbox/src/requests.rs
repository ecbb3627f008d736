//! The request journal: every API request the sandbox answered, oldest first, the last
//! [`crate::limits::MAX_JOURNAL_REQUESTS`] kept, so a test can ask what an application
//! actually sent (that its retry reused one idempotency key, that it never sent a token
//! in a query). `GET /sandbox/requests` and [`crate::Sandbox::requests`] read it.
//!
//! A request's parts are copied out, small (the bytes they arrived in belong to the
//! connection's read buffer, which a kept slice would hold on to whole), and its
//! `Authorization` is kept as its scheme alone: the journal never holds a token.

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

/// A request as kept.
#[derive(Debug)]
struct Entry {
    at: DateTime<Utc>,
    arrived: Arrived,
    operation: &'static str,
    status: StatusCode,
    request_id: Box<str>,
    order_id: Option<String>,
    dropped: bool,
}

/// The parts of a request kept before it is handled, copied out.
#[derive(Debug)]
pub(crate) struct Arrived {
    method: Method,
    path: Box<str>,
    query: Option<Box<str>>,
    idempotency_key: Option<Box<str>>,
    user_agent: Option<Box<str>>,
    content_type: Option<Box<str>>,
    /// The scheme alone.
    authorization: Option<Box<str>>,
}

/// The most of a header's value, or of a path or query, the journal keeps (hyper admits
/// headers of hundreds of kilobytes; 10,000 of them would be gigabytes).
const MAX_FIELD: usize = 512;

/// At most [`MAX_FIELD`] bytes of `text`, cut at a character.
fn bounded(text: &str) -> Box<str> {
    if text.len() <= MAX_FIELD {
        return text.into();
    }
    let mut end = MAX_FIELD;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// A header's value as text (bytes that are not UTF-8 shown as replacement characters).
fn copied(value: Option<&HeaderValue>) -> Option<Box<str>> {
    value.map(|v| bounded(&String::from_utf8_lossy(v.as_bytes())))
}

/// `Authorization` without its credentials: a scheme (a short word of letters followed by
/// a credential) and an ellipsis; anything else, only the ellipsis.
fn redacted_authorization(value: &HeaderValue) -> Box<str> {
    let text = String::from_utf8_lossy(value.as_bytes());
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(scheme), Some(_))
            if scheme.len() <= 16 && scheme.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            format!("{scheme} …").into()
        }
        _ => "…".into(),
    }
}

/// A query with the values of parameters that look like credentials redacted.
fn redacted_query(query: &str) -> Box<str> {
    const SECRET: [&str; 6] = ["token", "key", "secret", "password", "signature", "auth"];
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET.iter().any(|s| name.to_ascii_lowercase().contains(s)) => {
                format!("{name}=…")
            }
            _ => pair.to_string(),
        })
        .collect();
    bounded(&parts.join("&"))
}

impl Arrived {
    /// What the journal keeps of a request, taken before it is handled.
    pub(crate) fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        Self {
            method: method.clone(),
            path: bounded(uri.path()),
            query: uri.query().map(redacted_query),
            authorization: headers
                .get(header::AUTHORIZATION)
                .map(redacted_authorization),
            idempotency_key: copied(headers.get(sophic_client::headers::IDEMPOTENCY_KEY)),
            user_agent: copied(headers.get(header::USER_AGENT)),
            content_type: copied(headers.get(header::CONTENT_TYPE)),
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

fn text(value: &Option<Box<str>>) -> Option<String> {
    value.as_deref().map(str::to_string)
}

impl Entry {
    fn record(&self) -> RequestRecord {
        let a = &self.arrived;
        RequestRecord {
            at: self.at,
            method: a.method.to_string(),
            path: a.path.to_string(),
            query: text(&a.query),
            operation: self.operation.to_string(),
            status: self.status.as_u16(),
            request_id: self.request_id.to_string(),
            idempotency_key: text(&a.idempotency_key),
            order_id: self.order_id.clone(),
            user_agent: text(&a.user_agent),
            content_type: text(&a.content_type),
            authorization: text(&a.authorization),
            dropped: self.dropped,
        }
    }

    fn matches(&self, filter: &RequestFilter) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_ref().is_none_or(|w| have == Some(w.as_str()))
        };
        let a = &self.arrived;
        same(&filter.method, Some(a.method.as_str()))
            && same(&filter.path, Some(&a.path))
            && same(&filter.operation, Some(self.operation))
            && filter.status.is_none_or(|s| s == self.status.as_u16())
            && same(&filter.idempotency_key, a.idempotency_key.as_deref())
            && same(&filter.order_id, self.order_id.as_deref())
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
            let path = &arrived.path;
            let at = path.find("/orders/")?;
            let id = path[at + "/orders/".len()..].split('/').next()?;
            id.starts_with("ord_").then(|| id.to_string())
        });
        self.entries.push_back(Entry {
            at,
            arrived,
            operation,
            status,
            request_id: String::from_utf8_lossy(request_id.as_bytes()).into(),
            order_id,
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

    #[test]
    fn credentials_are_never_kept_and_no_field_is_kept_whole_past_its_bound() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("sk_test_abc"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&"a".repeat(100_000)).unwrap(),
        );
        let uri: Uri = "/instruments?access_token=t0k&limit=5&apiKey=k3y"
            .parse()
            .unwrap();
        let kept = Arrived::of(&Method::GET, &uri, &headers);
        assert_eq!(kept.authorization.as_deref(), Some("…"));
        assert_eq!(
            kept.query.as_deref(),
            Some("access_token=…&limit=5&apiKey=…")
        );
        assert!(kept.user_agent.as_deref().unwrap().len() <= MAX_FIELD + "…".len());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer eyJ.x.y"),
        );
        let kept = Arrived::of(&Method::GET, &uri, &headers);
        assert_eq!(kept.authorization.as_deref(), Some("Bearer …"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer:tok"),
        );
        let kept = Arrived::of(&Method::GET, &uri, &headers);
        assert_eq!(kept.authorization.as_deref(), Some("…"));
    }
}
