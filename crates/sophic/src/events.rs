//! Events: one per order status change, newest first, whose `data` is the full order.
//!
//! The same events are delivered to webhooks; see [`crate::webhooks`].

pub use sophic_client::types::{Event, EventName, EventResource};

#[cfg(feature = "client")]
pub use handler::{EventsHandler, ListEvents};

#[cfg(feature = "client")]
mod handler {
    use chrono::{DateTime, Utc};
    use futures::FutureExt as _;
    use futures::stream::BoxStream;
    use sophic_client::types::{Event, EventName};

    use crate::client::{Client, Safety};
    use crate::pagination::{DEFAULT_PAGE_SIZE, paginate};
    use crate::{EventId, Result};

    /// Events; from [`Client::events`].
    #[derive(Debug, Clone)]
    pub struct EventsHandler {
        client: Client,
    }

    impl EventsHandler {
        pub(crate) fn new(client: Client) -> Self {
            Self { client }
        }

        /// Lists events, newest first; filter, then [`ListEvents::stream`].
        pub fn list(&self) -> ListEvents {
            ListEvents {
                client: self.client.clone(),
                filters: Filters::default(),
                page_size: DEFAULT_PAGE_SIZE,
                starting_after: None,
            }
        }
    }

    #[derive(Debug, Clone, Default)]
    struct Filters {
        name: Option<EventName>,
        resource: Option<String>,
        created_gt: Option<DateTime<Utc>>,
        created_gte: Option<DateTime<Utc>>,
        created_lt: Option<DateTime<Utc>>,
        created_lte: Option<DateTime<Utc>>,
    }

    /// The filters of an event list; from [`EventsHandler::list`].
    ///
    /// ```no_run
    /// use futures::TryStreamExt as _;
    /// use sophic::types::EventName;
    ///
    /// # async fn run(client: sophic::Client, order: sophic::OrderId) -> sophic::Result<()> {
    /// let history: Vec<_> = client
    ///     .events()
    ///     .list()
    ///     .resource(&order)
    ///     .stream()
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[derive(Debug, Clone)]
    #[must_use = "a list does nothing until streamed"]
    pub struct ListEvents {
        client: Client,
        filters: Filters,
        page_size: u32,
        starting_after: Option<EventId>,
    }

    impl ListEvents {
        crate::client::call_settings!(client);

        /// Only events of this name, such as [`EventName::OrderFilled`].
        pub fn name(mut self, name: EventName) -> Self {
            self.filters.name = Some(name);
            self
        }

        /// Only events about this resource (an order id, for order events).
        pub fn resource(mut self, id: impl AsRef<str>) -> Self {
            self.filters.resource = Some(id.as_ref().to_owned());
            self
        }

        /// Only events created after this instant.
        pub fn created_gt(mut self, instant: DateTime<Utc>) -> Self {
            self.filters.created_gt = Some(instant);
            self
        }

        /// Only events created at or after this instant.
        pub fn created_gte(mut self, instant: DateTime<Utc>) -> Self {
            self.filters.created_gte = Some(instant);
            self
        }

        /// Only events created before this instant.
        pub fn created_lt(mut self, instant: DateTime<Utc>) -> Self {
            self.filters.created_lt = Some(instant);
            self
        }

        /// Only events created at or before this instant.
        pub fn created_lte(mut self, instant: DateTime<Utc>) -> Self {
            self.filters.created_lte = Some(instant);
            self
        }

        /// Events per request, 1 to 500 (100 by default).
        pub fn page_size(mut self, size: u32) -> Self {
            self.page_size = size;
            self
        }

        /// Starts after this event.
        pub fn starting_after(mut self, event: &EventId) -> Self {
            self.starting_after = Some(event.clone());
            self
        }

        /// Every matching event, newest first, fetched a page at a time.
        pub fn stream(self) -> BoxStream<'static, Result<Event>> {
            let Self {
                client,
                filters,
                page_size,
                starting_after,
            } = self;
            let start = starting_after.map(String::from);
            paginate(page_size, start, move |limit, cursor| {
                let (client, filters) = (client.clone(), filters.clone());
                async move {
                    client
                        .send(
                            sophic_client::Operation::LIST_EVENTS.id,
                            Safety::Idempotent,
                            |api| {
                                let mut request = api.list_events().limit(limit);
                                if let Some(name) = &filters.name {
                                    request = request.name(name.to_string());
                                }
                                if let Some(resource) = &filters.resource {
                                    request = request.resource_id(resource.as_str());
                                }
                                if let Some(instant) = filters.created_gt {
                                    request = request.created_gt(instant);
                                }
                                if let Some(instant) = filters.created_gte {
                                    request = request.created_gte(instant);
                                }
                                if let Some(instant) = filters.created_lt {
                                    request = request.created_lt(instant);
                                }
                                if let Some(instant) = filters.created_lte {
                                    request = request.created_lte(instant);
                                }
                                if let Some(cursor) = &cursor {
                                    request = request.starting_after(cursor.as_str());
                                }
                                request.send().boxed()
                            },
                        )
                        .await
                }
            })
        }
    }
}
