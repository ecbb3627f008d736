//! Paging a list operation as one stream.
//!
//! Lists are newest first; a page is asked for with `limit` and `starting_after` (the last
//! item's id of the page before), and a page shorter than `limit` is the last one.

use std::future::Future;
use std::num::NonZeroU32;

use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use sophic_client::types::{Event, Order};

use crate::{Error, Result};

/// The page size when the caller does not choose one (the API's own default).
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page the API serves.
pub(crate) const MAX_PAGE_SIZE: u32 = 500;

/// Items a list can continue after.
pub(crate) trait Paged {
    fn cursor(&self) -> &str;
}

impl Paged for Order {
    fn cursor(&self) -> &str {
        &self.id
    }
}

impl Paged for Event {
    fn cursor(&self) -> &str {
        &self.id
    }
}

/// Checks a page size against the API's range.
pub(crate) fn page_size(size: u32) -> Result<NonZeroU32> {
    NonZeroU32::new(size)
        .filter(|size| size.get() <= MAX_PAGE_SIZE)
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "the page size must be between 1 and {MAX_PAGE_SIZE}, not {size}"
            ))
        })
}

/// Streams every item, fetching page after page with `fetch(limit, starting_after)`.
pub(crate) fn paginate<T, F, Fut>(
    page_size: u32,
    starting_after: Option<String>,
    fetch: F,
) -> BoxStream<'static, Result<T>>
where
    T: Paged + Send + 'static,
    F: FnMut(NonZeroU32, Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>>> + Send + 'static,
{
    let limit = match self::page_size(page_size) {
        Ok(limit) => limit,
        Err(error) => return stream::once(async { Err(error) }).boxed(),
    };
    // `Some(cursor)` while there may be more; `None` once a short page has been seen.
    stream::try_unfold(
        (fetch, Some(starting_after)),
        move |(mut fetch, cursor)| async move {
            let Some(cursor) = cursor else {
                return Ok::<_, Error>(None);
            };
            let page = fetch(limit, cursor.clone()).await?;
            let next = next_cursor(&page, limit, cursor.as_deref());
            Ok(Some((page, (fetch, next))))
        },
    )
    .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Where the next page starts, or `None` when `page` was the last one. A full page whose
/// last item is the cursor itself (a server ignoring `starting_after`) also ends the list,
/// rather than looping forever.
fn next_cursor<T: Paged>(
    page: &[T],
    limit: NonZeroU32,
    cursor: Option<&str>,
) -> Option<Option<String>> {
    if page.len() < limit.get() as usize {
        return None;
    }
    let last = page.last()?.cursor();
    (Some(last) != cursor).then(|| Some(last.to_owned()))
}
