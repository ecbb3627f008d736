//! The typed event inside a delivery.

use serde::Deserialize as _;
use serde_json::Value;
use sophic_client::EventResourceKind;
use sophic_client::types::{Event, EventName, Order, Position};

use super::WebhookError;

/// What a delivery carries, by event name. Names this SDK does not know are kept raw rather
/// than refused, as the contract asks of receivers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `order.placed`, `order.pending`, `order.executing`, `order.filled`, `order.settled`
    /// or `order.cancelled`, with the order as it was after the change.
    Order(OrderEvent),
    /// `position.matured`: the position as it stood when it matured (its `quantity` was paid
    /// out at face value; the position is closed now).
    Position(PositionEvent),
    /// `webhook.test`: a delivery sent by `POST /webhooks/{id}/test`.
    Test(Event),
    /// Any other name, kept as it came.
    Unknown(UnknownEvent),
}

/// An order status change.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OrderEvent {
    /// The event as delivered (`id`, `name`, `resource`, `data`, `created_at`).
    pub event: Event,
    /// `data`, decoded.
    pub order: Box<Order>,
}

/// A position's event (`position.matured`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PositionEvent {
    /// The event as delivered.
    pub event: Event,
    /// `data`, decoded.
    pub position: Box<Position>,
}

/// An event whose name this SDK does not know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The event's `name`.
    pub name: String,
    /// The whole body.
    pub json: Value,
}

impl WebhookEvent {
    /// Parses a delivery body (which should have been verified first).
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        let invalid = |e: serde_json::Error| WebhookError::InvalidPayload(e.to_string());
        let json: Value = serde_json::from_slice(body).map_err(invalid)?;
        let name = json
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| WebhookError::InvalidPayload("it has no `name`".into()))?
            .to_owned();
        // `FromStr` is strict: only the names this SDK knows parse.
        let kind = name
            .parse::<EventName>()
            .map_or(EventResourceKind::Unknown, |known| known.resource());
        // Decoded from the tree in place, not from copies of it.
        fn typed<T: serde::de::DeserializeOwned>(
            json: Value,
        ) -> Result<(Event, Box<T>), serde_json::Error> {
            let data = T::deserialize(&json["data"])?;
            Ok((serde_json::from_value(json)?, Box::new(data)))
        }
        match kind {
            EventResourceKind::Order => {
                let (event, order) = typed(json).map_err(invalid)?;
                return Ok(Self::Order(OrderEvent { event, order }));
            }
            EventResourceKind::Position => {
                let (event, position) = typed(json).map_err(invalid)?;
                return Ok(Self::Position(PositionEvent { event, position }));
            }
            EventResourceKind::Unknown => {}
        }
        if name == "webhook.test"
            && let Ok(event) = Event::deserialize(&json)
        {
            return Ok(Self::Test(event));
        }
        Ok(Self::Unknown(UnknownEvent { name, json }))
    }

    /// The event's name, such as `order.filled`.
    pub fn name(&self) -> String {
        match self {
            Self::Order(event) => event.event.name.to_string(),
            Self::Position(event) => event.event.name.to_string(),
            Self::Test(event) => event.name.to_string(),
            Self::Unknown(event) => event.name.clone(),
        }
    }

    /// The order, for order events.
    pub fn order(&self) -> Option<&Order> {
        match self {
            Self::Order(event) => Some(&event.order),
            Self::Position(_) | Self::Test(_) | Self::Unknown(_) => None,
        }
    }

    /// The position, for position events.
    pub fn position(&self) -> Option<&Position> {
        match self {
            Self::Position(event) => Some(&event.position),
            Self::Order(_) | Self::Test(_) | Self::Unknown(_) => None,
        }
    }
}
