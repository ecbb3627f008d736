//! The names most programs need: `use sophic::prelude::*;`.

pub use crate::orders::{OrderExt, OrderRequest, OrderStatusExt};
pub use crate::types::{EventName, Order, OrderSide, OrderStatus};
pub use crate::{AccountId, Amount, Error, InstrumentId, OrderId, Quantity, Result};
#[cfg(feature = "client")]
pub use crate::{Client, RetryPolicy};
#[cfg(feature = "client")]
pub use futures::{StreamExt as _, TryStreamExt as _};
