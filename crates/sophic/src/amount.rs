//! Positive decimals for money and units.
//!
//! A buy carries a cash [`Amount`] and a sell a [`Quantity`]; both must be greater than zero,
//! so both types can only be built from a value that is. They are built from a
//! [`Decimal`] or from a string such as `"100.00"`, never from a float: `0.1 + 0.2` has no
//! business near an order. The scale is kept, so `"100.00"` goes on the wire as `"100.00"`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A value that cannot be an [`Amount`] or a [`Quantity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}: {reason}")]
pub struct AmountError {
    value: String,
    kind: &'static str,
    reason: &'static str,
}

impl AmountError {
    /// The text (or decimal) that was refused.
    pub fn value(&self) -> &str {
        &self.value
    }
}

macro_rules! define_positive_decimal {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $schema:literal, $grammar:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(Decimal);

        impl $name {
            /// Wraps `value` if it is greater than zero and in the spec's grammar for
            /// this field (for a cash amount: at most 2 decimals).
            pub fn new(value: Decimal) -> Result<Self, AmountError> {
                let error = |reason| AmountError {
                    value: value.to_string(),
                    kind: $kind,
                    reason,
                };
                if value <= Decimal::ZERO {
                    return Err(error("it must be greater than 0"));
                }
                if sophic_client::matches_decimal_schema($schema, &value.to_string()) != Some(true) {
                    return Err(error($grammar));
                }
                Ok(Self(value))
            }

            /// The value as a [`Decimal`], scale included.
            pub fn get(self) -> Decimal {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = AmountError;

            fn from_str(text: &str) -> Result<Self, AmountError> {
                let error = |reason| AmountError {
                    value: text.to_owned(),
                    kind: $kind,
                    reason,
                };
                // The spec's grammar for this field, as its schema's `pattern` states it.
                if sophic_client::matches_decimal_schema($schema, text) != Some(true) {
                    return Err(error($grammar));
                }
                let value = Decimal::from_str_exact(text)
                    .map_err(|_| error("it has more digits than a decimal holds"))?;
                Self::new(value)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = AmountError;

            fn try_from(value: Decimal) -> Result<Self, AmountError> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = AmountError;

            fn try_from(text: &str) -> Result<Self, AmountError> {
                text.parse()
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <Decimal as serde::Deserialize>::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

define_positive_decimal!(
    /// A cash amount greater than zero, such as the `cash_amount` of a buy (before fees).
    ///
    /// ```
    /// use sophic::Amount;
    ///
    /// let amount: Amount = "100.00".parse()?;
    /// assert_eq!(amount.to_string(), "100.00");
    /// assert!("0".parse::<Amount>().is_err());
    /// assert!("-5".parse::<Amount>().is_err());
    /// # Ok::<(), sophic::AmountError>(())
    /// ```
    Amount,
    "cash amount",
    "CashAmount",
    "expected a number greater than 0 in digits, with an optional point and 1 or 2 decimals, like `100.00`"
);

define_positive_decimal!(
    /// A number of units greater than zero, such as the `quantity` of a sell.
    ///
    /// ```
    /// use sophic::Quantity;
    ///
    /// let units: Quantity = "12.5".parse()?;
    /// assert_eq!(units.get().scale(), 1);
    /// # Ok::<(), sophic::AmountError>(())
    /// ```
    Quantity,
    "quantity",
    "Quantity",
    "expected a number greater than 0 in digits, with an optional point and decimals, like `12.5`"
);

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_scale_is_kept() {
        let amount: Amount = "100.00".parse().unwrap();
        assert_eq!(amount.get(), dec!(100.00));
        assert_eq!(amount.get().scale(), 2);
        assert_eq!(serde_json::to_string(&amount).unwrap(), r#""100.00""#);
    }

    #[test]
    fn zero_and_negative_values_are_refused() {
        assert!(Amount::new(Decimal::ZERO).is_err());
        assert!(Quantity::new(dec!(-1)).is_err());
        assert!("0.00".parse::<Amount>().is_err());
    }

    #[test]
    fn notations_other_than_plain_decimals_are_refused() {
        for text in [
            "1e3", "+5", "1_000", " 5", "5.", ".5", "", "1.2.3", "NaN", "1.005",
        ] {
            assert!(text.parse::<Amount>().is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn a_refusal_names_the_value_and_the_rule() {
        let err = "0".parse::<Quantity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`0` is not a valid quantity: expected a number greater than 0 in digits, with an \
             optional point and decimals, like `12.5`"
        );
    }

    #[test]
    fn deserializing_checks_positivity() {
        assert!(serde_json::from_str::<Amount>(r#""10.50""#).is_ok());
        assert!(serde_json::from_str::<Amount>(r#""0""#).is_err());
    }
}
