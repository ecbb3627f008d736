//! The ledger: each account's cash per currency and units per instrument, changed only
//! through its verbs (reserve, release, fill, pay out), so that no caller can move money
//! without the books seeing it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use foldhash::HashMap;
use rust_decimal::Decimal;
use sophic_client::types::Currency;

/// Cash in one currency.
#[derive(Clone, Debug, Default)]
pub struct Cash {
    /// All the cash held (negative only while a rollover waits for its payout).
    pub total: Decimal,
    /// Held back by open buys.
    pub reserved: Decimal,
}

/// Units of one instrument held.
#[derive(Clone, Debug)]
pub struct Holding {
    pub(super) id: String,
    pub(super) quantity: Decimal,
    pub(super) reserved: Decimal,
    pub(super) automatic_rollover: bool,
    /// The rollover order placed for it, once placed (it then waits for its payout).
    pub(super) rolled_into: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) modified_at: DateTime<Utc>,
}

impl Holding {
    /// Units free to sell.
    pub(super) fn available(&self) -> Decimal {
        self.quantity - self.reserved
    }
}

/// A test account.
#[derive(Clone, Debug)]
pub struct Account {
    /// `acc_…`
    pub id: String,
    /// May buy `pro_traders_only` instruments.
    pub professional: bool,
    cash: BTreeMap<Currency, Cash>,
    holdings: BTreeMap<String, Holding>,
    /// Order ids, oldest first (shared with the orders).
    orders: Vec<Arc<str>>,
}

impl Account {
    /// Cash per currency.
    pub(super) fn cash(&self) -> impl Iterator<Item = (&Currency, &Cash)> {
        self.cash.iter()
    }

    /// Cash in one currency, if the account holds that currency.
    pub(super) fn cash_in(&self, currency: &Currency) -> Option<&Cash> {
        self.cash.get(currency)
    }

    /// Holdings per instrument id (closed ones included until they are forgotten).
    pub(super) fn holdings(&self) -> impl Iterator<Item = (&String, &Holding)> {
        self.holdings.iter()
    }

    /// The holding of one instrument.
    pub(super) fn holding(&self, instrument: &str) -> Option<&Holding> {
        self.holdings.get(instrument)
    }

    /// Order ids, oldest first.
    pub(super) fn order_ids(&self) -> &[Arc<str>] {
        &self.orders
    }
}

/// Why a reservation was refused.
#[derive(Debug)]
pub(super) enum Shortfall {
    /// The account holds no cash in the currency.
    NoCurrency,
    /// Less is available than asked for.
    Available(Decimal),
}

/// Every account's books.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    accounts: HashMap<String, Account>,
}

impl Ledger {
    /// Opens an account with its starting cash and holdings.
    pub(super) fn open(
        &mut self,
        id: String,
        professional: bool,
        cash: impl IntoIterator<Item = (Currency, Decimal)>,
        holdings: impl IntoIterator<Item = (String, Holding)>,
    ) {
        let cash = cash
            .into_iter()
            .map(|(c, total)| {
                (
                    c,
                    Cash {
                        total,
                        reserved: Decimal::ZERO,
                    },
                )
            })
            .collect();
        self.accounts.insert(
            id.clone(),
            Account {
                id,
                professional,
                cash,
                holdings: holdings.into_iter().collect(),
                orders: Vec::new(),
            },
        );
    }

    pub(super) fn get(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.accounts.contains_key(id)
    }

    pub(super) fn all(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    fn account_mut(&mut self, id: &str) -> &mut Account {
        self.accounts
            .get_mut(id)
            .expect("the world checked the account exists")
    }

    /// Records a new order of the account.
    pub(super) fn add_order(&mut self, account: &str, order: Arc<str>) {
        self.account_mut(account).orders.push(order);
    }

    /// Keeps only the orders `keep` accepts in every account's list.
    pub(super) fn retain_orders(&mut self, keep: impl Fn(&str) -> bool) {
        for account in self.accounts.values_mut() {
            account.orders.retain(|id| keep(id));
        }
    }

    /// Reserves cash for a buy, refusing when less than `amount` is available.
    pub(super) fn reserve_cash(
        &mut self,
        account: &str,
        currency: &Currency,
        amount: Decimal,
    ) -> Result<(), Shortfall> {
        let balance = self
            .account_mut(account)
            .cash
            .get_mut(currency)
            .ok_or(Shortfall::NoCurrency)?;
        let available = balance.total - balance.reserved;
        if available < amount {
            return Err(Shortfall::Available(available));
        }
        balance.reserved += amount;
        Ok(())
    }

    /// Reserves cash whatever is available (a rollover buy, contract section 11), opening
    /// the currency if the account had none.
    pub(super) fn reserve_cash_unchecked(
        &mut self,
        account: &str,
        currency: &Currency,
        amount: Decimal,
    ) {
        let balance = self
            .account_mut(account)
            .cash
            .entry(currency.clone())
            .or_default();
        balance.reserved += amount;
    }

    /// Reserves units for a sell, refusing when fewer than `quantity` are free.
    pub(super) fn reserve_units(
        &mut self,
        account: &str,
        instrument: &str,
        quantity: Decimal,
    ) -> Result<(), Shortfall> {
        let holding = self.account_mut(account).holdings.get_mut(instrument);
        let available = holding.as_ref().map_or(Decimal::ZERO, |h| h.available());
        match holding {
            Some(h) if available >= quantity => {
                h.reserved += quantity;
                Ok(())
            }
            _ => Err(Shortfall::Available(available)),
        }
    }

    /// Releases cash a buy reserved.
    pub(super) fn release_cash(&mut self, account: &str, currency: &Currency, amount: Decimal) {
        if let Some(cash) = self.account_mut(account).cash.get_mut(currency) {
            cash.reserved -= amount;
        }
    }

    /// Releases units a sell reserved.
    pub(super) fn release_units(&mut self, account: &str, instrument: &str, quantity: Decimal) {
        if let Some(h) = self.account_mut(account).holdings.get_mut(instrument) {
            h.reserved -= quantity;
        }
    }

    /// The account's holding of `instrument`, opened with `open` if it has none.
    pub(super) fn holding_mut(
        &mut self,
        account: &str,
        instrument: &str,
        open: impl FnOnce() -> Holding,
    ) -> &mut Holding {
        self.account_mut(account)
            .holdings
            .entry(instrument.to_string())
            .or_insert_with(open)
    }

    /// An existing holding, to change.
    pub(super) fn existing_holding_mut(
        &mut self,
        account: &str,
        instrument: &str,
    ) -> Option<&mut Holding> {
        self.accounts.get_mut(account)?.holdings.get_mut(instrument)
    }

    /// Closes the account's holding of `instrument` (it matured): nothing of it is kept.
    pub(super) fn close_holding(&mut self, account: &str, instrument: &str) {
        if let Some(account) = self.accounts.get_mut(account) {
            account.holdings.remove(instrument);
        }
    }

    /// Adds (or with a negative `amount`, takes) cash.
    pub(super) fn credit(&mut self, account: &str, currency: &Currency, amount: Decimal) {
        self.account_mut(account)
            .cash
            .entry(currency.clone())
            .or_default()
            .total += amount;
    }

    /// The accounts holding units of `instrument`, with their holdings.
    pub(super) fn holders_of(&self, instrument: &str) -> Vec<(String, Holding)> {
        let mut holders: Vec<_> = self
            .accounts
            .values()
            .filter_map(|a| {
                let h = a.holdings.get(instrument)?;
                (h.quantity > Decimal::ZERO).then(|| (a.id.clone(), h.clone()))
            })
            .collect();
        // Deterministic: the same seed gives the same ids in the same order.
        holders.sort_by(|a, b| a.0.cmp(&b.0));
        holders
    }
}
