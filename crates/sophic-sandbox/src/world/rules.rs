//! The instrument's own trading rules, as pure checks: whether it trades, and the
//! minimums, increments and precision of a buy or a sell.

use axum::http::StatusCode;
use rust_decimal::Decimal;
use sophic_client::types::exhaustive;
use sophic_client::types::{ErrorCode, ErrorParamCode};

use super::{Account, NewSide};
use crate::error::ApiError;
use crate::market::Listing;

pub(super) fn check_tradable(
    listing: &Listing,
    side: &NewSide,
    account: &Account,
) -> Result<(), ApiError> {
    let id = &listing.instrument.id;
    let is_buy = matches!(side, NewSide::Buy { .. });
    match listing.trading_status().exhaustive() {
        exhaustive::TradingStatus::BuySell => {}
        exhaustive::TradingStatus::SellOnly if !is_buy => {}
        exhaustive::TradingStatus::SellOnly => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::BuyOrderForbidden,
                format!("Instrument {id} can only be sold."),
            ));
        }
        exhaustive::TradingStatus::Closed | exhaustive::TradingStatus::Unknown(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InstrumentNotTrading,
                format!("Instrument {id} is not trading now."),
            ));
        }
    }
    if is_buy && listing.instrument.pro_traders_only == Some(true) && !account.professional {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ProfessionalTraderRequired,
            format!("Instrument {id} is open to professional traders only."),
        ));
    }
    Ok(())
}

pub(super) fn check_buy_rules(
    listing: &Listing,
    cash: Decimal,
    rollover: bool,
    account: &Account,
    today: chrono::NaiveDate,
) -> Result<(), ApiError> {
    let instrument = &listing.instrument;
    if rollover && instrument.supports_automatic_rollover != Some(true) {
        return Err(ApiError::param(
            "body.automatic_rollover",
            ErrorParamCode::NotAllowed,
            format!("is not supported by instrument {}", instrument.id),
        ));
    }
    // A buy asking for rollover turns it on for the whole position, so the switch's lock
    // holds for it too (contract section 11).
    if let Some(maturity) = listing
        .maturity()
        .filter(|m| rollover && (*m - today).num_days() <= super::ROLLOVER_LOCK_DAYS)
    {
        return Err(ApiError::param(
            "body.automatic_rollover",
            ErrorParamCode::NotAllowed,
            format!(
                "can no longer be asked for: {} matures on {maturity}, and rollover locks {} days before maturity",
                instrument.id,
                super::ROLLOVER_LOCK_DAYS
            ),
        ));
    }
    if instrument.enforce_trading_rules != Some(true) {
        return Ok(());
    }
    let first_buy = account.holding(&instrument.id).is_none();
    if let Some(minimum) = instrument
        .minimum_initial_cash_investment
        .filter(|m| first_buy && cash < *m)
    {
        return Err(ApiError::param(
            "body.cash_amount",
            ErrorParamCode::TooSmall,
            format!(
                "must be at least {minimum} for a first investment in {}",
                instrument.id
            ),
        ));
    }
    let increment = instrument
        .required_cash_increment
        .as_ref()
        .map(|i| match i.exhaustive() {
            exhaustive::RequiredCashIncrement::Int64(n) => Decimal::from(n),
            exhaustive::RequiredCashIncrement::Decimal(d) => d,
        });
    if let Some(increment) = increment.filter(|i| *i > Decimal::ZERO && !(cash % *i).is_zero()) {
        return Err(ApiError::param(
            "body.cash_amount",
            ErrorParamCode::InvalidIncrement,
            format!("must be a multiple of {increment} for {}", instrument.id),
        ));
    }
    Ok(())
}

pub(super) fn check_sell_rules(listing: &Listing, quantity: Decimal) -> Result<(), ApiError> {
    let instrument = &listing.instrument;
    if quantity.normalize().scale() > listing.precision() {
        return Err(ApiError::param(
            "body.quantity",
            ErrorParamCode::InvalidIncrement,
            format!(
                "must have at most {} decimal places for {}",
                listing.precision(),
                instrument.id
            ),
        ));
    }
    if instrument.enforce_trading_rules != Some(true) {
        return Ok(());
    }
    // The spec: `minimum_trading_quantity` is "the smallest quantity a sell may carry",
    // and quantities are multiples of `trading_increment`.
    if let Some(minimum) = instrument
        .minimum_trading_quantity
        .filter(|m| quantity < *m)
    {
        return Err(ApiError::param(
            "body.quantity",
            ErrorParamCode::TooSmall,
            format!("must be at least {minimum} for {}", instrument.id),
        ));
    }
    if let Some(increment) = instrument
        .trading_increment
        .filter(|i| *i > Decimal::ZERO && !(quantity % *i).is_zero())
    {
        return Err(ApiError::param(
            "body.quantity",
            ErrorParamCode::InvalidIncrement,
            format!("must be a multiple of {increment} for {}", instrument.id),
        ));
    }
    Ok(())
}
