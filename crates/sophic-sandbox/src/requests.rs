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

/// What a request's handler knew that the journal wants: the order it concerned.
#[derive(Clone, Debug)]
pub(crate) struct OrderRef(pub String);

/// A request as kept.
#[derive(Debug)]
pub(crate) struct Entry {
    at: DateTime<Utc>,
    /// Its text fields, the request id last.
    arrived: Arrived,
    operation: &'static str,
    status: StatusCode,
    order_id: Option<String>,
    dropped: bool,
}

/// The text fields of a request the journal keeps, in the order they are written into
/// [`Arrived::text`].
#[derive(Clone, Copy)]
enum Field {
    Path,
    Query,
    IdempotencyKey,
    UserAgent,
    ContentType,
    Authorization,
    RequestId,
}

const FIELDS: usize = 7;

/// The parts of a request kept before it is handled, copied out into one string (one
/// allocation a request, not one a field: the journal is on every request's path).
#[derive(Debug)]
pub(crate) struct Arrived {
    method: Method,
    /// The fields, one after another.
    text: String,
    /// Where each field ends in `text` (each is at most [`MAX_FIELD`] bytes and an
    /// ellipsis, so the whole fits a `u16`).
    ends: [u16; FIELDS],
    /// Which fields the request had, a bit each.
    present: u8,
}

impl Arrived {
    fn get(&self, field: Field) -> Option<&str> {
        let i = field as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(usize::from(start)..usize::from(self.ends[i]))
    }

    /// Writes `field` with `write` (or marks it absent with `None`), bounded to
    /// [`MAX_FIELD`] bytes cut at a character, with an ellipsis when cut.
    fn put(&mut self, field: Field, write: Option<impl FnOnce(&mut String)>) {
        let i = field as usize;
        let start = self.text.len();
        if let Some(write) = write {
            write(&mut self.text);
            if self.text.len() - start > MAX_FIELD {
                let mut end = start + MAX_FIELD;
                while !self.text.is_char_boundary(end) {
                    end -= 1;
                }
                self.text.truncate(end);
                self.text.push('…');
            }
            self.present |= 1 << i;
        }
        self.ends[i] = u16::try_from(self.text.len())
            .expect("every field is bounded (the assertion beside MAX_FIELD)");
    }
}

/// The most of a header's value, or of a path or query, the journal keeps (hyper admits
/// headers of hundreds of kilobytes; 10,000 of them would be gigabytes).
const MAX_FIELD: usize = 512;

/// Every field at its bound (and a little over, see [`push_bounded`], with an ellipsis)
/// fits the `u16` ends of a record.
const _: () = assert!(FIELDS * (MAX_FIELD + 4 + "…".len()) <= u16::MAX as usize);

/// Pushes as much of `part` as the field begun at `start` may still take: a little more
/// than [`MAX_FIELD`] (so that [`Arrived::put`] sees it was cut), never a whole
/// oversized value (the buffer would keep its room).
fn push_bounded(text: &mut String, start: usize, part: &str) {
    let room = (start + MAX_FIELD + 4).saturating_sub(text.len());
    let mut end = part.len().min(room);
    while !part.is_char_boundary(end) {
        end -= 1;
    }
    text.push_str(&part[..end]);
}

/// A header's value as text (bytes that are not UTF-8 shown as replacement characters).
fn header_text(value: &HeaderValue) -> impl FnOnce(&mut String) + '_ {
    |text| {
        let bytes = value.as_bytes();
        let start = text.len();
        // A prefix a little longer than the bound decides every byte that is kept.
        let prefix = &bytes[..bytes.len().min(MAX_FIELD + 4)];
        push_bounded(text, start, &String::from_utf8_lossy(prefix));
    }
}

/// `Authorization` without its credentials: a scheme (a short word of letters followed by
/// a credential) and an ellipsis; anything else, only the ellipsis.
fn redacted_authorization(value: &HeaderValue) -> impl FnOnce(&mut String) + '_ {
    |text| {
        // Read as bytes (paid on every request; a token is a few hundred of them): a
        // scheme is ASCII letters, and what separates it from the credential is a space
        // or a tab.
        let value = value.as_bytes().trim_ascii_start();
        let scheme = value.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let rest = &value[scheme..];
        let credential_follows =
            rest.first().is_some_and(u8::is_ascii_whitespace) && !rest.trim_ascii().is_empty();
        match std::str::from_utf8(&value[..scheme]) {
            Ok(scheme) if (1..=16).contains(&scheme.len()) && credential_follows => {
                text.push_str(scheme);
                text.push_str(" …");
            }
            _ => text.push('…'),
        }
    }
}

/// Whether `word` (lower-case ASCII) is in `name`, in any case, without a lower-cased copy.
fn contains_ignoring_case(name: &str, word: &str) -> bool {
    name.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// A query with the values of parameters that look like credentials redacted.
fn redacted_query(query: &str) -> impl FnOnce(&mut String) + '_ {
    const SECRET: [&str; 6] = ["token", "key", "secret", "password", "signature", "auth"];
    |text| {
        let start = text.len();
        for (n, pair) in query.split('&').enumerate() {
            if n > 0 {
                push_bounded(text, start, "&");
            }
            match pair.split_once('=') {
                Some((name, _)) if SECRET.iter().any(|s| contains_ignoring_case(name, s)) => {
                    push_bounded(text, start, name);
                    push_bounded(text, start, "=…");
                }
                _ => push_bounded(text, start, pair),
            }
        }
    }
}

impl Arrived {
    /// What the journal keeps of a request, taken before it is handled.
    pub(crate) fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        let mut kept = Self {
            method: method.clone(),
            text: String::with_capacity(160),
            ends: [0; FIELDS],
            present: 0,
        };
        let path = uri.path();
        kept.put(
            Field::Path,
            Some(|text: &mut String| push_bounded(text, text.len(), path)),
        );
        kept.put(Field::Query, uri.query().map(redacted_query));
        kept.put(
            Field::IdempotencyKey,
            headers
                .get(sophic_client::headers::IDEMPOTENCY_KEY)
                .map(header_text),
        );
        kept.put(
            Field::UserAgent,
            headers.get(header::USER_AGENT).map(header_text),
        );
        kept.put(
            Field::ContentType,
            headers.get(header::CONTENT_TYPE).map(header_text),
        );
        kept.put(
            Field::Authorization,
            headers
                .get(header::AUTHORIZATION)
                .map(redacted_authorization),
        );
        kept
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

impl Entry {
    /// The record of `arrived`, answered so (made before the journal's lock is taken).
    pub(crate) fn new(mut arrived: Arrived, at: DateTime<Utc>, answered: Answered) -> Self {
        let Answered {
            operation,
            status,
            request_id,
            order_id,
            dropped,
        } = answered;
        arrived.put(Field::RequestId, Some(header_text(&request_id)));
        // The order a path names, when the handler did not say.
        let order_id = order_id.or_else(|| {
            let path = arrived.get(Field::Path)?;
            let at = path.find("/orders/")?;
            let id = path[at + "/orders/".len()..].split('/').next()?;
            id.starts_with("ord_").then(|| id.to_string())
        });
        Self {
            at,
            arrived,
            operation,
            status,
            order_id,
            dropped,
        }
    }

    fn record(&self) -> RequestRecord {
        let a = &self.arrived;
        let text = |field| a.get(field).map(str::to_string);
        RequestRecord {
            at: self.at,
            method: a.method.to_string(),
            path: text(Field::Path).unwrap_or_default(),
            query: text(Field::Query),
            operation: self.operation.to_string(),
            status: self.status.as_u16(),
            request_id: text(Field::RequestId).unwrap_or_default(),
            idempotency_key: text(Field::IdempotencyKey),
            order_id: self.order_id.clone(),
            user_agent: text(Field::UserAgent),
            content_type: text(Field::ContentType),
            authorization: text(Field::Authorization),
            dropped: self.dropped,
        }
    }

    fn matches(&self, filter: &RequestFilter) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_ref().is_none_or(|w| have == Some(w.as_str()))
        };
        let a = &self.arrived;
        same(&filter.method, Some(a.method.as_str()))
            && same(&filter.path, a.get(Field::Path))
            && same(&filter.operation, Some(self.operation))
            && filter.status.is_none_or(|s| s == self.status.as_u16())
            && same(&filter.idempotency_key, a.get(Field::IdempotencyKey))
            && same(&filter.order_id, self.order_id.as_deref())
    }
}

impl Journal {
    /// Keeps one answered request in `journal`: the record is made before the lock is
    /// taken and the oldest, forgotten past the bound, is dropped after it is released.
    pub(crate) fn keep(
        journal: &std::sync::Mutex<Journal>,
        arrived: Arrived,
        at: DateTime<Utc>,
        answered: Answered,
    ) {
        let entry = Entry::new(arrived, at, answered);
        let forgotten = crate::clock::lock(journal).push(entry);
        drop(forgotten);
    }

    /// Keeps `entry`, giving back the oldest when past the bound.
    fn push(&mut self, entry: Entry) -> Option<Entry> {
        let forgotten = if self.entries.len() >= MAX_JOURNAL_REQUESTS {
            self.entries.pop_front()
        } else {
            None
        };
        self.entries.push_back(entry);
        forgotten
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
            journal.push(Entry::new(arrived, at, answered));
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
        assert_eq!(kept.get(Field::Authorization), Some("…"));
        assert_eq!(
            kept.get(Field::Query),
            Some("access_token=…&limit=5&apiKey=…")
        );
        let agent = kept.get(Field::UserAgent).unwrap();
        assert_eq!(agent.len(), MAX_FIELD + "…".len());
        assert!(agent.ends_with('…'));
        // The oversized value was never copied whole: the record keeps no room for it.
        assert!(
            kept.text.capacity() < 4 * MAX_FIELD,
            "{}",
            kept.text.capacity()
        );
        assert_eq!(kept.get(Field::Path), Some("/instruments"));
        assert_eq!(kept.get(Field::IdempotencyKey), None);
        // A value cut inside a character is cut before it.
        let mut wide = HeaderMap::new();
        wide.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&format!("a{}", "é".repeat(MAX_FIELD))).unwrap(),
        );
        let kept = Arrived::of(&Method::GET, &uri, &wide);
        let agent = kept.get(Field::UserAgent).unwrap();
        assert_eq!(agent.len(), MAX_FIELD - 1 + "…".len());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer eyJ.x.y"),
        );
        let kept = Arrived::of(&Method::GET, &uri, &headers);
        assert_eq!(kept.get(Field::Authorization), Some("Bearer …"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer:tok"),
        );
        let kept = Arrived::of(&Method::GET, &uri, &headers);
        assert_eq!(kept.get(Field::Authorization), Some("…"));
        for (sent, kept_as) in [
            ("\tbasic  dXNlcjpwYXNz", "basic …"),
            ("Bearer", "…"),
            ("Bearer \t ", "…"),
            ("AVeryLongSchemeName tok", "…"),
            ("Bearer2 tok", "…"),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(sent).unwrap());
            let kept = Arrived::of(&Method::GET, &uri, &headers);
            assert_eq!(kept.get(Field::Authorization), Some(kept_as), "{sent:?}");
        }
    }
}
