//! The event log.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::json_response;
use crate::clock::lock;
use crate::error::ApiError;
use crate::http::query::{Query, page};
use crate::http::{AppState, Auth};

pub(super) async fn list_events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = Query::parse(uri.query());
    let limit = query.limit()?;
    let name = query.get("name").map(str::to_string);
    let resource = query.get("resource[id]").map(str::to_string);
    let bounds = [
        query.instant("created[gt]")?,
        query.instant("created[gte]")?,
        query.instant("created[lt]")?,
        query.instant("created[lte]")?,
    ];
    let keep = |e: &crate::world::EventRecord| {
        let t = e.created_at();
        name.as_ref().is_none_or(|n| e.name().to_string() == *n)
            && resource.as_ref().is_none_or(|r| e.resource_id() == r)
            && bounds[0].is_none_or(|b| t > b)
            && bounds[1].is_none_or(|b| t >= b)
            && bounds[2].is_none_or(|b| t < b)
            && bounds[3].is_none_or(|b| t <= b)
    };
    // The page is taken under the world lock; its events are rendered after it is released.
    let sources: Vec<_> = {
        let world = lock(&state.world);
        let records = page(
            world.events_newest_first(&principal),
            |e| e.id(),
            query.get("starting_after"),
            keep,
            limit,
        )?;
        records
            .iter()
            .filter_map(|r| world.event_source(r))
            .collect()
    };
    let events: Vec<_> = sources
        .iter()
        .filter_map(|(record, order)| record.event(order.as_deref()))
        .collect();
    Ok(json_response(StatusCode::OK, &events))
}
