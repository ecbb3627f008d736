//! Waiting for an order to move through its lifecycle, by polling with backoff.

use std::future::IntoFuture;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use sophic_client::types::{Order, OrderStatus};
use tokio::time::Instant;

use super::OrderStatusExt as _;
use super::handler::{OrdersHandler, ResponseFuture};
use crate::{Error, OrderId, Result};

/// A wait for an order; from [`OrdersHandler::wait_for_order`].
///
/// Polls the order, starting at the poll interval and doubling it (up to the maximum)
/// while nothing changes, until it is settled or cancelled, or reaches (or passes) the
/// status given with [`WaitForOrder::until`]. Gives up with [`Error::WaitTimeout`] after
/// the timeout.
///
/// ```no_run
/// use std::time::Duration;
/// use sophic::types::OrderStatus;
///
/// # async fn run(client: sophic::Client, account: sophic::AccountId, order: sophic::OrderId) -> sophic::Result<()> {
/// let filled = client
///     .orders(&account)
///     .wait_for_order(&order)
///     .until(OrderStatus::Filled)
///     .timeout(Duration::from_secs(60))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a wait does nothing until awaited or streamed"]
pub struct WaitForOrder {
    orders: OrdersHandler,
    order: OrderId,
    target: Option<OrderStatus>,
    poll_interval: Duration,
    max_poll_interval: Duration,
    timeout: Duration,
}

impl WaitForOrder {
    pub(crate) fn new(orders: OrdersHandler, order: OrderId) -> Self {
        let defaults = orders.client().wait_defaults();
        Self {
            orders,
            order,
            target: None,
            poll_interval: defaults.poll_interval,
            max_poll_interval: defaults.max_poll_interval,
            timeout: defaults.timeout,
        }
    }

    /// Stops at this status, or any later one in the lifecycle (`filled` also stops at
    /// `settled`), as well as at `settled` and `cancelled`.
    pub fn until(mut self, status: OrderStatus) -> Self {
        self.target = Some(status);
        self
    }

    /// The first interval between two polls.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The longest interval between two polls.
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self
    }

    /// How long to wait in all.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Waits; the order as it was when the wait ended (check its status: waiting for
    /// `filled` ends at `cancelled` too).
    pub async fn send(self) -> Result<Order> {
        let target = self.target.clone();
        let mut changes = self.status_changes();
        while let Some(order) = changes.try_next().await? {
            if order.status.has_reached(target.as_ref()) {
                return Ok(order);
            }
        }
        unreachable!("status changes end with a terminal status or an error")
    }

    /// The order each time its status changes, starting with its current state; the stream
    /// ends after a terminal status, or with an error (the last a [`Error::WaitTimeout`]).
    pub fn status_changes(self) -> BoxStream<'static, Result<Order>> {
        let now = Instant::now();
        let poll = Poll {
            orders: self.orders,
            order: self.order,
            first: self.poll_interval,
            next: self.poll_interval,
            max: self.max_poll_interval.max(self.poll_interval),
            started: now,
            deadline: now + self.timeout,
            last: None,
            done: false,
        };
        stream::unfold(poll, |mut poll| async move {
            let item = poll.next_change().await?;
            Some((item, poll))
        })
        .boxed()
    }
}

impl IntoFuture for WaitForOrder {
    type Output = Result<Order>;
    type IntoFuture = ResponseFuture<Order>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

struct Poll {
    orders: OrdersHandler,
    order: OrderId,
    first: Duration,
    next: Duration,
    max: Duration,
    started: Instant,
    deadline: Instant,
    /// The order as last seen; `None` before the first poll.
    last: Option<Order>,
    done: bool,
}

impl Poll {
    /// Polls until the status differs from the last one seen; `None` once finished.
    async fn next_change(&mut self) -> Option<Result<Order>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(last) = &self.last {
                let now = Instant::now();
                if now >= self.deadline {
                    self.done = true;
                    return Some(Err(Error::WaitTimeout {
                        last: Box::new(last.clone()),
                        waited: now - self.started,
                    }));
                }
                tokio::time::sleep(self.next.min(self.deadline - now)).await;
                self.next = (self.next * 2).min(self.max);
            }
            let order = match self.orders.get(&self.order).await {
                Ok(order) => order,
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            };
            let changed = self
                .last
                .as_ref()
                .is_none_or(|last| last.status != order.status);
            self.done = order.status.is_terminal();
            if !changed {
                self.last = Some(order);
                continue;
            }
            // Something moved: look again soon (the order is copied only when returned).
            self.next = self.first;
            self.last = Some(order.clone());
            return Some(Ok(order));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reached(status: &OrderStatus, target: Option<&OrderStatus>) -> bool {
        status.has_reached(target)
    }

    #[test]
    fn a_wait_for_filled_also_ends_at_settled_and_cancelled() {
        let filled = Some(&OrderStatus::Filled);
        assert!(reached(&OrderStatus::Filled, filled));
        assert!(reached(&OrderStatus::Settled, filled));
        assert!(reached(&OrderStatus::Cancelled, filled));
        assert!(!reached(&OrderStatus::Executing, filled));
    }

    #[test]
    fn a_wait_for_pending_ends_when_pending_was_skipped() {
        assert!(reached(
            &OrderStatus::Executing,
            Some(&OrderStatus::Pending)
        ));
    }

    #[test]
    fn without_a_target_only_terminal_statuses_end_the_wait() {
        assert!(!reached(&OrderStatus::Filled, None));
        assert!(!reached(
            &OrderStatus::Unknown("partially_filled".into()),
            None
        ));
        assert!(reached(&OrderStatus::Settled, None));
    }

    #[test]
    fn an_unknown_target_is_reached_only_by_itself() {
        let target = OrderStatus::Unknown("partially_filled".into());
        assert!(reached(&target.clone(), Some(&target)));
        assert!(!reached(&OrderStatus::Filled, Some(&target)));
    }
}
