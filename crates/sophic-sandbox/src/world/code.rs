//! The world's enum values as bytes. The generated enums are open (a value the client does
//! not know is kept as `Unknown(String)`), so each takes 24 bytes; an order keeps six and
//! each of its events and trades one more. The world makes only the values it knows, so it
//! keeps each as its place in the enum's table.

use std::marker::PhantomData;

use sophic_client::types::exhaustive;
use sophic_client::types::{
    OrderCancelledReason, OrderPurpose, OrderSide, OrderStatus, OrderType, TradeStatus,
};

/// A value as a byte: its place in the enum's [`Code::TABLE`]. Each encoding is an
/// exhaustive `match`, so a value added to the spec fails to compile here until it has a
/// place; a test checks that each value comes back as itself.
pub trait Code: Clone + 'static {
    /// Every value the world can make, in the order of their codes.
    const TABLE: &'static [Self];
    /// What [`Code::NONE`] decodes to: an unknown value with no name. The world makes no
    /// value outside the table (it is never given one to keep: each is its own decision),
    /// so this only keeps the decoding total; it is never another, known, value.
    const UNKNOWN: Self;
    /// The code of a value outside the table.
    const NONE: u8 = u8::MAX;

    fn code(&self) -> u8;

    /// The value of `code`, or `None` for a code outside the table.
    fn from_code(code: u8) -> Option<Self> {
        Self::TABLE.get(usize::from(code)).cloned()
    }
}

/// A value of `T` kept as its [`Code`] (one byte instead of 24).
pub struct Coded<T>(u8, PhantomData<fn() -> T>);

// By hand: derived, they would ask the same of `T` (which is not `Copy`).
impl<T> Clone for Coded<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Coded<T> {}

impl<T> PartialEq for Coded<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> Eq for Coded<T> {}

impl<T: Code> Coded<T> {
    pub fn new(value: &T) -> Self {
        Self(value.code(), PhantomData)
    }

    pub fn get(self) -> T {
        T::from_code(self.0).unwrap_or(T::UNKNOWN)
    }

    /// Whether it holds `value`.
    pub fn is(self, value: &T) -> bool {
        self.0 == value.code()
    }
}

impl<T: Code> From<T> for Coded<T> {
    fn from(value: T) -> Self {
        Self::new(&value)
    }
}

impl<T: Code + std::fmt::Debug> std::fmt::Debug for Coded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl<T: Code + std::fmt::Display> std::fmt::Display for Coded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// `impl Code` for an enum from one list of its variants: the table in that order, and
/// the encoding an exhaustive `match` on the enum's twin (so a variant added to the spec
/// fails to compile here, and the table and the match cannot disagree).
macro_rules! code {
    ($enum:ident { $($variant:ident),+ $(,)? }) => {
        impl Code for $enum {
            const TABLE: &'static [Self] = &[$($enum::$variant),+];
            const UNKNOWN: Self = $enum::Unknown(String::new());
            fn code(&self) -> u8 {
                /// Each variant's place in `TABLE` (the same list, in the same order).
                #[repr(u8)]
                enum Place {
                    $($variant),+
                }
                // Exhaustive: a variant added to the spec fails to compile here.
                match self.exhaustive() {
                    $(exhaustive::$enum::$variant => Place::$variant as u8,)+
                    exhaustive::$enum::Unknown(_) => Self::NONE,
                }
            }
        }
    };
}

code!(OrderStatus {
    Placed,
    Pending,
    Executing,
    Filled,
    Settled,
    Cancelled
});
code!(TradeStatus {
    Executed,
    Settled,
    Cancelled
});
code!(OrderSide { Buy, Sell });
code!(OrderType { Market });
code!(OrderPurpose {
    UserRequest,
    Rollover,
    SquareOff,
    Backfill
});
code!(OrderCancelledReason {
    UserRequest,
    InsufficientFunds,
    InsufficientUnits,
    InstrumentNotTrading,
    System
});

#[cfg(test)]
mod tests {
    use super::*;

    fn each_comes_back<T: Code + PartialEq + std::fmt::Debug>() {
        for (i, value) in T::TABLE.iter().enumerate() {
            assert_eq!(usize::from(value.code()), i, "{value:?}");
            assert_eq!(Coded::new(value).get(), *value);
        }
        assert_eq!(T::UNKNOWN.code(), T::NONE);
        assert_eq!(T::from_code(T::NONE), None);
        assert!(T::TABLE.len() < usize::from(T::NONE));
    }

    #[test]
    fn each_value_comes_back_from_its_code() {
        each_comes_back::<OrderStatus>();
        each_comes_back::<TradeStatus>();
        each_comes_back::<OrderSide>();
        each_comes_back::<OrderType>();
        each_comes_back::<OrderPurpose>();
        each_comes_back::<OrderCancelledReason>();
        assert_eq!(std::mem::size_of::<Coded<OrderStatus>>(), 1);
    }
}
