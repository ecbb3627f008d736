//! Typed ids: one type per kind of resource, each checked for its prefix when parsed.
//!
//! Sophic's ids are opaque strings with a type prefix (`ord_…`, `acc_…`). Giving each kind
//! its own type means an order id cannot be passed where an account id is expected, and a
//! typo is caught where the id is read (from a config file, a CLI argument) rather than as a
//! 404 from the server.
//!
//! The rule checked is deliberately loose, since the ids are opaque: the expected prefix,
//! then at least one character, all ASCII letters, digits, `_` or `-`.

use std::fmt;
use std::str::FromStr;

/// An id that does not have the shape its type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not {kind} id: {reason}")]
pub struct IdError {
    value: String,
    kind: &'static str,
    reason: IdErrorReason,
}

impl IdError {
    /// The text that failed to parse.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The prefix the id type requires, such as `ord_`.
    pub fn expected_prefix(&self) -> &'static str {
        match self.reason {
            IdErrorReason::Prefix(prefix)
            | IdErrorReason::Empty(prefix)
            | IdErrorReason::Character(prefix, _) => prefix,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdErrorReason {
    Prefix(&'static str),
    Empty(&'static str),
    Character(&'static str, char),
}

impl fmt::Display for IdErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix(prefix) => write!(f, "expected the prefix `{prefix}`"),
            Self::Empty(prefix) => write!(f, "expected characters after the prefix `{prefix}`"),
            Self::Character(_, c) => write!(
                f,
                "the character {c:?} is not allowed (letters, digits, `_` and `-` are)"
            ),
        }
    }
}

fn check(value: &str, prefix: &'static str, kind: &'static str) -> Result<(), IdError> {
    let error = |reason| IdError {
        value: value.to_owned(),
        kind,
        reason,
    };
    let rest = value
        .strip_prefix(prefix)
        .ok_or(error(IdErrorReason::Prefix(prefix)))?;
    if rest.is_empty() {
        return Err(error(IdErrorReason::Empty(prefix)));
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(error(IdErrorReason::Character(prefix, c)));
    }
    Ok(())
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Checks `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check(&value, $prefix, $kind)?;
                Ok(Self(value))
            }

            /// An id the API itself returned, taken as it is (the API is the authority on
            /// its own ids; the prefix check is for ids people type).
            #[allow(dead_code)]
            pub(crate) fn from_api(value: String) -> Self {
                Self(value)
            }

            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as a `String`.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;

            fn try_from(value: &str) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        // The generated builders take `TryInto<String>`: these let an id go straight in.
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

define_id!(
    /// An account (`acc_…`): the owner of orders, balances and positions.
    AccountId,
    "acc_",
    "an account"
);
define_id!(
    /// An order (`ord_…`).
    OrderId,
    "ord_",
    "an order"
);
define_id!(
    /// An instrument (`ins_…`): a bill or bond that can be traded.
    InstrumentId,
    "ins_",
    "an instrument"
);
define_id!(
    /// A position (`pos_…`): the units of one instrument an account holds.
    PositionId,
    "pos_",
    "a position"
);
define_id!(
    /// A trade (`trd_…`): a fill of (part of) an order.
    TradeId,
    "trd_",
    "a trade"
);
define_id!(
    /// An event (`evt_…`): one state change, such as an order becoming filled.
    EventId,
    "evt_",
    "an event"
);
define_id!(
    /// A webhook (`wh_…`): a registered endpoint for event deliveries.
    WebhookId,
    "wh_",
    "a webhook"
);
define_id!(
    /// A webhook delivery (`whd_…`), sent as the `Webhook-Id` header.
    WebhookDeliveryId,
    "whd_",
    "a webhook delivery"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_id_parses_and_prints_unchanged() {
        let id: OrderId = "ord_abc123".parse().unwrap();
        assert_eq!(id.to_string(), "ord_abc123");
        assert_eq!(id, "ord_abc123");
    }

    #[test]
    fn a_wrong_prefix_names_the_expected_one() {
        let err = "acc_123".parse::<OrderId>().unwrap_err();
        assert_eq!(err.expected_prefix(), "ord_");
        assert_eq!(
            err.to_string(),
            "`acc_123` is not an order id: expected the prefix `ord_`"
        );
    }

    #[test]
    fn a_bare_prefix_is_rejected() {
        let err = "wh_".parse::<WebhookId>().unwrap_err();
        assert!(err.to_string().contains("after the prefix `wh_`"), "{err}");
    }

    #[test]
    fn a_delivery_id_is_not_a_webhook_id_even_though_it_starts_with_wh() {
        // `whd_…` starts with `wh`, but not with `wh_`.
        assert!("whd_9s8d7f".parse::<WebhookId>().is_err());
        assert!("whd_9s8d7f".parse::<WebhookDeliveryId>().is_ok());
    }

    #[test]
    fn ids_serialize_as_plain_strings_and_deserialize_checked() {
        let id: InstrumentId = "ins_xyz789".parse().unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""ins_xyz789""#);
        assert!(serde_json::from_str::<InstrumentId>(r#""ord_1""#).is_err());
    }
}
