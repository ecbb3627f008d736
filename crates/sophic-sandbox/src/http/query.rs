//! Query strings as the contract has them: repeatable keys, bracketed names
//! (`created[gte]`), and refusals that name the parameter (`query.limit`).

use std::str::FromStr;

use chrono::{DateTime, Utc};

use sophic_client::types::ErrorParamCode;

use crate::error::ApiError;

/// A parsed query string.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    /// Every value of a repeatable parameter.
    pub(crate) fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.all(name).last()
    }

    /// A parameter parsed by `FromStr`, or a refusal naming it.
    pub(crate) fn parsed<T: FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::param(
                        &format!("query.{name}"),
                        ErrorParamCode::Invalid,
                        format!("must be {expected}"),
                    )
                })
            })
            .transpose()
    }

    /// An RFC 3339 instant.
    pub(crate) fn instant(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.parsed::<DateTime<Utc>>(name, "an RFC 3339 date-time such as 2026-03-12T14:30:00Z")
    }

    /// `limit`, or the spec's default when absent. Its bounds are the spec's, checked
    /// before the handler runs (`spec::check_parameters`).
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        let default = super::spec::query_default("limit")
            .and_then(serde_json::Value::as_u64)
            .and_then(|d| usize::try_from(d).ok())
            .expect("the spec gives `limit` a default");
        Ok(self
            .parsed::<usize>("limit", "an integer")?
            .unwrap_or(default))
    }
}

/// One page of `items` (newest first): those after `starting_after`, kept by `keep`,
/// at most `limit`. `starting_after` must name an item of the unfiltered list, so that a
/// filter never loses the caller's place.
pub(crate) fn page<'a, T: Clone + 'a>(
    items: impl Iterator<Item = &'a T>,
    id_of: impl Fn(&T) -> &str,
    starting_after: Option<&str>,
    keep: impl Fn(&T) -> bool,
    limit: usize,
) -> Result<Vec<T>, ApiError> {
    let mut items = items.peekable();
    if let Some(after) = starting_after {
        loop {
            match items.next() {
                Some(item) if id_of(item) == after => break,
                Some(_) => continue,
                None => {
                    return Err(ApiError::param(
                        "query.starting_after",
                        ErrorParamCode::NotFound,
                        format!("names no item of this list: {after}"),
                    ));
                }
            }
        }
    }
    Ok(items.filter(|i| keep(i)).take(limit).cloned().collect())
}
