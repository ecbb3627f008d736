//! The simulated market: a seeded catalogue of instruments and their prices.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sophic_client::types::{
    Currency, Instrument, InstrumentType, RequiredCashIncrement, TradingStatus,
};

/// An instrument as the sandbox trades it.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The instrument as the API shows it (`days_to_maturity` is filled in when shown).
    pub instrument: Instrument,
    /// The price of one unit, in the trading currency.
    pub price: Decimal,
    /// Whether orders of this instrument wait for an auction (`pending`) before executing.
    pub goes_through_auction: bool,
}

impl Listing {
    /// The instrument's trading currency.
    pub fn currency(&self) -> Currency {
        self.instrument
            .trading_currency
            .clone()
            .unwrap_or(Currency::Usd)
    }

    /// Decimal places of quantities.
    pub fn precision(&self) -> u32 {
        self.instrument.decimal_precision.unwrap_or(2)
    }

    /// The trading status.
    pub fn trading_status(&self) -> TradingStatus {
        self.instrument
            .trading_status
            .clone()
            .unwrap_or(TradingStatus::BuySell)
    }

    /// The four fields every embedded instrument carries.
    pub fn summary(&self) -> Instrument {
        Instrument {
            id: self.instrument.id.clone(),
            name: self.instrument.name.clone(),
            symbol: self.instrument.symbol.clone(),
            instrument_type: self.instrument.instrument_type.clone(),
            ..empty_instrument()
        }
    }

    /// The full instrument, with `days_to_maturity` counted from `today`.
    pub fn full(&self, today: NaiveDate) -> Instrument {
        let mut instrument = self.instrument.clone();
        instrument.days_to_maturity = instrument.maturity_date.map(|m| (m - today).num_days());
        instrument
    }
}

fn empty_instrument() -> Instrument {
    Instrument {
        id: String::new(),
        name: String::new(),
        symbol: String::new(),
        instrument_type: InstrumentType::Bond,
        isin: None,
        ticker: None,
        issuer: None,
        issuer_country: None,
        issuer_credit_rating: None,
        trading_status: None,
        trading_currency: None,
        trading_increment: None,
        decimal_precision: None,
        minimum_trading_quantity: None,
        minimum_initial_cash_investment: None,
        required_cash_increment: None,
        pro_traders_only: None,
        enforce_trading_rules: None,
        supports_automatic_rollover: None,
        maturity_date: None,
        days_to_maturity: None,
        initial_issue_date: None,
        latest_issue_date: None,
        initial_auction_date: None,
        latest_auction_date: None,
    }
}

struct Seed {
    id: &'static str,
    name: &'static str,
    symbol: &'static str,
    kind: InstrumentType,
    currency: Currency,
    status: TradingStatus,
    price: &'static str,
    issuer: (&'static str, &'static str, &'static str),
    pro_only: bool,
    rollover: bool,
    cash_increment: RequiredCashIncrement,
    dates: [&'static str; 5],
}

fn d(s: &str) -> Decimal {
    s.parse().expect("a seeded decimal")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a seeded date")
}

fn seeds() -> Vec<Seed> {
    use Currency::{Eur, Gbp, Usd};
    use InstrumentType::{Bill, Bond};
    use TradingStatus::{BuySell, Closed, SellOnly};
    let cents = || RequiredCashIncrement::Decimal(d("0.01"));
    vec![
        Seed {
            id: "ins_xyz789",
            name: "Kenya 2024 Bond A",
            symbol: "KE2024A",
            kind: Bond,
            currency: Usd,
            status: BuySell,
            price: "0.99",
            issuer: ("Republic of Kenya", "KE", "B"),
            pro_only: false,
            rollover: false,
            cash_increment: RequiredCashIncrement::Int64(1),
            dates: [
                "2029-03-15",
                "2024-03-15",
                "2024-09-15",
                "2024-03-12",
                "2024-09-12",
            ],
        },
        Seed {
            id: "ins_tbill3m",
            name: "US Treasury Bill 3M",
            symbol: "UST3M",
            kind: Bill,
            currency: Usd,
            status: BuySell,
            price: "0.9875",
            issuer: ("United States Treasury", "US", "AA+"),
            pro_only: false,
            rollover: true,
            cash_increment: cents(),
            dates: [
                "2026-06-11",
                "2026-03-12",
                "2026-03-12",
                "2026-03-10",
                "2026-03-10",
            ],
        },
        Seed {
            id: "ins_bund30",
            name: "Germany 2030 Bund",
            symbol: "DE2030",
            kind: Bond,
            currency: Eur,
            status: BuySell,
            price: "1.012",
            issuer: ("Federal Republic of Germany", "DE", "AAA"),
            pro_only: false,
            rollover: false,
            cash_increment: cents(),
            dates: [
                "2030-02-15",
                "2020-01-10",
                "2025-01-10",
                "2020-01-08",
                "2025-01-08",
            ],
        },
        Seed {
            id: "ins_gilt28",
            name: "UK Gilt 2028",
            symbol: "UKT28",
            kind: Bond,
            currency: Gbp,
            status: BuySell,
            price: "0.973",
            issuer: ("HM Treasury", "GB", "AA"),
            pro_only: false,
            rollover: false,
            cash_increment: cents(),
            dates: [
                "2028-10-22",
                "2018-06-20",
                "2024-06-20",
                "2018-06-18",
                "2024-06-18",
            ],
        },
        Seed {
            id: "ins_ng2025c",
            name: "Nigeria 2025 Bond",
            symbol: "NG2025",
            kind: Bond,
            currency: Usd,
            status: Closed,
            price: "0.95",
            issuer: ("Federal Republic of Nigeria", "NG", "B-"),
            pro_only: false,
            rollover: false,
            cash_increment: cents(),
            dates: [
                "2027-11-28",
                "2017-11-28",
                "2017-11-28",
                "2017-11-21",
                "2017-11-21",
            ],
        },
        Seed {
            id: "ins_ke2035p",
            name: "Kenya 2035 Infrastructure Bond",
            symbol: "KE2035I",
            kind: Bond,
            currency: Usd,
            status: BuySell,
            price: "1.05",
            issuer: ("Republic of Kenya", "KE", "B"),
            pro_only: true,
            rollover: false,
            cash_increment: cents(),
            dates: [
                "2035-05-01",
                "2025-05-01",
                "2025-05-01",
                "2025-04-25",
                "2025-04-25",
            ],
        },
        Seed {
            id: "ins_gh2026s",
            name: "Ghana 2026 Bond",
            symbol: "GH2026",
            kind: Bond,
            currency: Usd,
            status: SellOnly,
            price: "0.80",
            issuer: ("Republic of Ghana", "GH", "CCC+"),
            pro_only: false,
            rollover: false,
            cash_increment: cents(),
            dates: [
                "2026-12-15",
                "2016-12-15",
                "2016-12-15",
                "2016-12-08",
                "2016-12-08",
            ],
        },
    ]
}

/// The seeded catalogue, in listing order.
pub fn catalogue() -> Vec<Listing> {
    seeds()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let goes_through_auction = s.kind == InstrumentType::Bill;
            Listing {
                price: d(s.price),
                goes_through_auction,
                instrument: Instrument {
                    id: s.id.into(),
                    name: s.name.into(),
                    symbol: s.symbol.into(),
                    instrument_type: s.kind,
                    isin: Some(format!("{}{:010}", s.issuer.1, 2024000001 + i)),
                    ticker: Some(s.symbol.into()),
                    issuer: Some(s.issuer.0.into()),
                    issuer_country: Some(s.issuer.1.into()),
                    issuer_credit_rating: Some(s.issuer.2.into()),
                    trading_status: Some(s.status),
                    trading_currency: Some(s.currency),
                    trading_increment: Some(d("0.01")),
                    decimal_precision: Some(2),
                    minimum_trading_quantity: Some(d("1.00")),
                    minimum_initial_cash_investment: Some(d("10.00")),
                    required_cash_increment: Some(s.cash_increment),
                    pro_traders_only: Some(s.pro_only),
                    enforce_trading_rules: Some(true),
                    supports_automatic_rollover: Some(s.rollover),
                    maturity_date: Some(date(s.dates[0])),
                    days_to_maturity: None,
                    initial_issue_date: Some(date(s.dates[1])),
                    latest_issue_date: Some(date(s.dates[2])),
                    initial_auction_date: Some(date(s.dates[3])),
                    latest_auction_date: Some(date(s.dates[4])),
                },
            }
        })
        .collect()
}
