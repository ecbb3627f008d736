//! Every bound the sandbox puts on what it is sent (contract section 10, "Limits"), in one
//! place: a request past one of them is refused with a field error, never carried into the
//! lifecycle where it could overflow. Body sizes are not here: they are the specs'
//! (`x-max-body-bytes`), read from the operation tables by the front door (`http::guard`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

/// The most requests the request journal keeps (`GET /sandbox/requests`): the latest.
pub const MAX_JOURNAL_REQUESTS: usize = 10_000;

/// How long a client has to send a request's headers (HTTP/1; on a keep-alive connection
/// also the longest idle wait between two requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a request's body once its headers arrived.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest amount of money or units the sandbox carries (10^15): a request amount, a
/// starting balance or position. With prices inside [`MIN_PRICE`, `MAX_PRICE`] every
/// product and quotient of the lifecycle stays far inside `Decimal`'s 28 digits.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0x_A4C6_8000, 0x_0003_8D7E, 0, false, 0);

/// The lowest price an instrument can be given (0.000001 per unit).
pub const MIN_PRICE: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// The highest price an instrument can be given (1,000,000 per unit).
pub const MAX_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The most one `POST /sandbox/clock/advance` moves the clock: ten years (3,660 days).
pub const MAX_ADVANCE: TimeDelta = TimeDelta::days(3_660);

/// The clock never passes the start of year 2200.
pub fn latest_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(7_258_118_400, 0).expect("2200-01-01T00:00:00Z is representable")
}

/// The most trades one order fills in: its last trade takes all that remains, so an order
/// far larger than its instrument's lot (or a tiny pinned price) cannot take millions of
/// steps, or hold millions of trades.
pub const MAX_TRADES_PER_ORDER: usize = 100;

/// The most requests one armed fault may hit.
pub const MAX_FAULT_COUNT: u32 = 1_000_000;

/// The longest `Retry-After` a `rate_limited` fault may ask for (a day).
pub const MAX_RETRY_AFTER: u32 = 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_numbers_their_docs_say() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_u64));
        assert_eq!(MIN_PRICE.to_string(), "0.000001");
        assert_eq!(MAX_PRICE, Decimal::from(1_000_000));
        assert_eq!(latest_instant().to_rfc3339(), "2200-01-01T00:00:00+00:00");
        // The largest notional the lifecycle can compute still fits, with room for sums.
        assert!(MAX_AMOUNT.checked_mul(MAX_PRICE).is_some());
        assert!(MAX_AMOUNT.checked_div(MIN_PRICE).is_some());
    }
}
