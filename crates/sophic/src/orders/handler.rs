//! The order operations of one account.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use chrono::{DateTime, Utc};
use futures::FutureExt as _;
use futures::stream::BoxStream;
use sophic_client::types::{
    CancelOrderIdempotencyKey, Order, OrderSide, OrderStatus, PlaceOrderIdempotencyKey,
    PlaceOrderRequest,
};

use super::{OrderRequest, WaitForOrder};
use crate::client::{Client, Safety};
use crate::pagination::{DEFAULT_PAGE_SIZE, paginate};
use crate::{AccountId, Error, InstrumentId, OrderId, Result};

/// The boxed future `.await` on a request builder runs.
pub type ResponseFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// The orders of one account; from [`Client::orders`].
#[derive(Debug, Clone)]
pub struct OrdersHandler {
    client: Client,
    account: AccountId,
}

impl OrdersHandler {
    pub(crate) fn new(client: Client, account: AccountId) -> Self {
        Self { client, account }
    }

    crate::client::call_settings!(client);

    /// Places a market order; `.await` it, or set an idempotency key first.
    ///
    /// Every attempt of one placement carries the same `Idempotency-Key` (generated unless
    /// given), so retries after a timeout or a 5xx can never place the order twice; an
    /// answer the API replays for that key is returned like the original.
    pub fn place(&self, request: impl Into<OrderRequest>) -> PlaceOrder {
        PlaceOrder {
            orders: self.clone(),
            request: request.into().into_wire(),
            idempotency_key: None,
        }
    }

    /// Retrieves an order, with its trades.
    pub async fn get(&self, order: &OrderId) -> Result<Order> {
        let account = &self.account;
        self.client
            .send(
                sophic_client::Operation::GET_ORDER.id,
                Safety::Idempotent,
                |api| {
                    api.get_order()
                        .account_id(account)
                        .order_id(order)
                        .send()
                        .boxed()
                },
            )
            .await
    }

    /// Cancels an order that is `placed`, `pending` or `executing`; `.await` it. An order
    /// already cancelled comes back unchanged; a filled or settled one fails with
    /// [`Error::is_not_cancellable`].
    pub fn cancel(&self, order: &OrderId) -> CancelOrder {
        CancelOrder {
            orders: self.clone(),
            order: order.clone(),
            idempotency_key: None,
        }
    }

    /// Lists the account's orders, newest first; filter, then [`ListOrders::stream`].
    pub fn list(&self) -> ListOrders {
        ListOrders {
            orders: self.clone(),
            statuses: Vec::new(),
            instrument: None,
            side: None,
            created_gte: None,
            created_lt: None,
            page_size: DEFAULT_PAGE_SIZE,
            starting_after: None,
        }
    }

    /// Lists the orders neither filled nor cancelled (`placed`, `pending`, `executing`).
    pub fn list_pending(&self) -> ListPendingOrders {
        ListPendingOrders {
            orders: self.clone(),
            page_size: DEFAULT_PAGE_SIZE,
            starting_after: None,
        }
    }

    /// Waits until the order is settled or cancelled (or reaches a status given with
    /// [`WaitForOrder::until`]), polling with backoff; `.await` it.
    pub fn wait_for_order(&self, order: &OrderId) -> WaitForOrder {
        WaitForOrder::new(self.clone(), order.clone())
    }

    /// The order each time its status changes, starting with its current state and ending
    /// after a terminal status: for progress displays. Shorthand for
    /// `wait_for_order(order).status_changes()`.
    pub fn status_changes(&self, order: &OrderId) -> BoxStream<'static, Result<Order>> {
        self.wait_for_order(order).status_changes()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn account(&self) -> &AccountId {
        &self.account
    }
}

/// A new idempotency key: 128 random bits in the UUID v4 layout.
pub(crate) fn new_idempotency_key() -> String {
    let mut bytes: [u8; 16] = crate::random::bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    // One allocation: this runs on every placement and cancellation.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            key.push('-');
        }
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    key
}

/// A placement; from [`OrdersHandler::place`]. `.await` it (or call [`PlaceOrder::send`]).
#[derive(Debug, Clone)]
#[must_use = "a placement does nothing until awaited"]
pub struct PlaceOrder {
    orders: OrdersHandler,
    request: PlaceOrderRequest,
    idempotency_key: Option<String>,
}

impl PlaceOrder {
    crate::client::call_settings!(orders.client);

    /// Uses this key instead of a generated one (at most 255 characters): for callers
    /// that persist the key so that a retry after a crash is recognised too.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Places the order: the order in status `placed`.
    ///
    /// When the retries run out after an attempt that may have reached Sophic, the error
    /// is an unknown outcome ([`Error::is_outcome_unknown`]): the order may exist. Place it
    /// again with [`Error::idempotency_key`] to get it (or place it now), never with a new
    /// key.
    pub async fn send(self) -> Result<Order> {
        let key = idempotency_key::<PlaceOrderIdempotencyKey>(self.idempotency_key)?;
        let (account, body) = (self.orders.account(), &self.request);
        let client = self.orders.client();
        let (order, doubt) = client
            .send_write(sophic_client::Operation::PLACE_ORDER.id, &key, |api| {
                api.place_order()
                    .account_id(account)
                    .idempotency_key(key.clone())
                    .body(body.clone())
                    .send()
                    .boxed()
            })
            .await?;
        match doubt {
            Some(since) if client.detects_duplicate_placements() => {
                self.orders
                    .check_for_twin(order, &key, since.elapsed())
                    .await
            }
            _ => Ok(order),
        }
    }
}

impl OrdersHandler {
    /// After a placement whose retry was answered as new although an earlier attempt may
    /// have placed it: the order, or [`Error::Duplicate`] with the twin found (an order of
    /// the same instrument, side and amount created since the first attempt, `elapsed`
    /// ago, give or take a few seconds of clock difference), or with why no look was
    /// possible.
    async fn check_for_twin(
        &self,
        order: Order,
        key: &PlaceOrderIdempotencyKey,
        elapsed: std::time::Duration,
    ) -> Result<Order> {
        use futures::TryStreamExt as _;
        // The service's clock dates both orders: look back from the new order's time.
        let window =
            chrono::Duration::from_std(elapsed + TWIN_SLACK).unwrap_or(chrono::Duration::MAX);
        let since = order
            .created_at
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let instrument: InstrumentId = match order.instrument.id.parse() {
            Ok(id) => id,
            Err(_) => return Ok(order),
        };
        let same = |o: &Order| {
            o.id != order.id
                && o.side == order.side
                && o.cash_amount == order.cash_amount
                && o.quantity == order.quantity
                && o.purpose == order.purpose
        };
        // With the client's own settings: a placement's short timeout or lack of retries
        // must not make the look fail, and turn a placed order into an error.
        let found = OrdersHandler::new(self.client.with_built_settings(), self.account.clone())
            .list()
            .instrument(&instrument)
            .side(order.side.clone())
            .created_gte(since)
            .stream()
            .try_filter(|o| std::future::ready(same(o)))
            .try_next()
            .await;
        let (twin, check_failed) = match found {
            Ok(None) => return Ok(order),
            Ok(Some(twin)) => (Some(twin), None),
            Err(error) => (None, Some(error)),
        };
        Err(Error::Duplicate(Box::new(crate::Duplicate {
            order,
            twin,
            idempotency_key: key.to_string(),
            check_failed,
        })))
    }
}

/// How much earlier than the first attempt a twin may be dated: the service's clock and
/// this machine's may differ by this much.
const TWIN_SLACK: std::time::Duration = std::time::Duration::from_secs(5);

impl IntoFuture for PlaceOrder {
    type Output = Result<Order>;
    type IntoFuture = ResponseFuture<Order>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The caller's key, checked by the generated type's rules, or a fresh one.
fn idempotency_key<K>(key: Option<String>) -> Result<K>
where
    K: TryFrom<String, Error: std::fmt::Display>,
{
    let key = key.unwrap_or_else(new_idempotency_key);
    K::try_from(key).map_err(|e| Error::invalid_input(format!("idempotency key: {e}")))
}

/// A cancellation; from [`OrdersHandler::cancel`]. `.await` it (or call
/// [`CancelOrder::send`]).
#[derive(Debug, Clone)]
#[must_use = "a cancellation does nothing until awaited"]
pub struct CancelOrder {
    orders: OrdersHandler,
    order: OrderId,
    idempotency_key: Option<String>,
}

impl CancelOrder {
    crate::client::call_settings!(orders.client);

    /// Uses this key instead of a generated one (at most 255 characters).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Cancels the order: the order as it is afterwards.
    ///
    /// As with placements, a failure after an attempt that may have reached Sophic is an
    /// unknown outcome ([`Error::is_outcome_unknown`]): cancel again with
    /// [`Error::idempotency_key`], or get the order to see where it stands.
    pub async fn send(self) -> Result<Order> {
        let key = idempotency_key::<CancelOrderIdempotencyKey>(self.idempotency_key)?;
        let (account, order) = (self.orders.account(), &self.order);
        self.orders
            .client()
            .send_write(sophic_client::Operation::CANCEL_ORDER.id, &key, |api| {
                api.cancel_order()
                    .account_id(account)
                    .order_id(order)
                    .idempotency_key(key.clone())
                    .send()
                    .boxed()
            })
            .await
            .map(|(order, _)| order)
    }
}

impl IntoFuture for CancelOrder {
    type Output = Result<Order>;
    type IntoFuture = ResponseFuture<Order>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The filters of an order list; from [`OrdersHandler::list`].
///
/// ```no_run
/// use futures::TryStreamExt as _;
/// use sophic::types::{OrderSide, OrderStatus};
///
/// # async fn run(client: sophic::Client, account: sophic::AccountId) -> sophic::Result<()> {
/// let mut orders = client
///     .orders(&account)
///     .list()
///     .status(OrderStatus::Placed)
///     .status(OrderStatus::Executing)
///     .side(OrderSide::Buy)
///     .stream();
/// while let Some(order) = orders.try_next().await? {
///     println!("{} {}", order.id, order.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a list does nothing until streamed"]
pub struct ListOrders {
    orders: OrdersHandler,
    statuses: Vec<OrderStatus>,
    instrument: Option<InstrumentId>,
    side: Option<OrderSide>,
    created_gte: Option<DateTime<Utc>>,
    created_lt: Option<DateTime<Utc>>,
    page_size: u32,
    starting_after: Option<OrderId>,
}

impl ListOrders {
    crate::client::call_settings!(orders.client);

    /// Only orders in this status; call again to allow several.
    pub fn status(mut self, status: OrderStatus) -> Self {
        self.statuses.push(status);
        self
    }

    /// Only orders in one of these statuses.
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = OrderStatus>) -> Self {
        self.statuses.extend(statuses);
        self
    }

    /// Only orders of this instrument.
    pub fn instrument(mut self, instrument: &InstrumentId) -> Self {
        self.instrument = Some(instrument.clone());
        self
    }

    /// Only buys, or only sells.
    pub fn side(mut self, side: OrderSide) -> Self {
        self.side = Some(side);
        self
    }

    /// Only orders created at or after this instant.
    pub fn created_gte(mut self, instant: DateTime<Utc>) -> Self {
        self.created_gte = Some(instant);
        self
    }

    /// Only orders created before this instant.
    pub fn created_lt(mut self, instant: DateTime<Utc>) -> Self {
        self.created_lt = Some(instant);
        self
    }

    /// Orders per request, 1 to 500 (100 by default).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Starts after this order (ids from an earlier listing).
    pub fn starting_after(mut self, order: &OrderId) -> Self {
        self.starting_after = Some(order.clone());
        self
    }

    /// Every matching order, newest first, fetched a page at a time as the stream is read.
    pub fn stream(self) -> BoxStream<'static, Result<Order>> {
        let Self {
            orders,
            statuses,
            instrument,
            side,
            created_gte,
            created_lt,
            page_size,
            starting_after,
        } = self;
        let start = starting_after.map(String::from);
        paginate(page_size, start, move |limit, cursor| {
            let orders = orders.clone();
            let (statuses, instrument, side) = (statuses.clone(), instrument.clone(), side.clone());
            async move {
                orders
                    .client()
                    .send(
                        sophic_client::Operation::LIST_ORDERS.id,
                        Safety::Idempotent,
                        |api| {
                            let mut request =
                                api.list_orders().account_id(orders.account()).limit(limit);
                            if !statuses.is_empty() {
                                request = request.status(statuses.clone());
                            }
                            if let Some(instrument) = &instrument {
                                request = request.instrument(instrument);
                            }
                            if let Some(side) = &side {
                                request = request.side(side.clone());
                            }
                            if let Some(instant) = created_gte {
                                request = request.created_gte(instant);
                            }
                            if let Some(instant) = created_lt {
                                request = request.created_lt(instant);
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

/// The pending orders of an account; from [`OrdersHandler::list_pending`].
#[derive(Debug, Clone)]
#[must_use = "a list does nothing until streamed"]
pub struct ListPendingOrders {
    orders: OrdersHandler,
    page_size: u32,
    starting_after: Option<OrderId>,
}

impl ListPendingOrders {
    crate::client::call_settings!(orders.client);

    /// Orders per request, 1 to 500 (100 by default).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Starts after this order.
    pub fn starting_after(mut self, order: &OrderId) -> Self {
        self.starting_after = Some(order.clone());
        self
    }

    /// Every pending order, newest first.
    pub fn stream(self) -> BoxStream<'static, Result<Order>> {
        let Self {
            orders,
            page_size,
            starting_after,
        } = self;
        let start = starting_after.map(String::from);
        paginate(page_size, start, move |limit, cursor| {
            let orders = orders.clone();
            async move {
                orders
                    .client()
                    .send(
                        sophic_client::Operation::LIST_PENDING_ORDERS.id,
                        Safety::Idempotent,
                        |api| {
                            let mut request = api
                                .list_pending_orders()
                                .account_id(orders.account())
                                .limit(limit);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_look_like_uuids_and_differ() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert_eq!(a.matches('-').count(), 4);
        let dashes: Vec<usize> = a.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, [8, 13, 18, 23], "{a}");
        assert!(
            b"89ab".contains(&a.as_bytes()[19]),
            "the RFC 4122 variant: {a}"
        );
        assert!(
            a.bytes()
                .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{a}"
        );
    }

    #[test]
    fn a_caller_key_longer_than_255_characters_is_refused_before_sending() {
        let err = idempotency_key::<PlaceOrderIdempotencyKey>(Some("k".repeat(256))).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }
}
