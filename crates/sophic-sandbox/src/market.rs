//! The simulated market: a seeded catalogue of bonds, series of bills issued every four
//! weeks (extended as the clock reaches each issue date), and their prices on the clock
//! (contract sections 10 and 11).

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use foldhash::HashMap;
use rust_decimal::{Decimal, RoundingStrategy};
use sophic_client::types::exhaustive;
use sophic_client::types::{
    Currency, Instrument, InstrumentType, RequiredCashIncrement, TradingStatus,
};

/// How an instrument's price moves on the clock.
#[derive(Clone, Debug)]
enum Quote {
    /// A discount bill: priced from a yield (which drifts with the date) and the days left,
    /// accreting to 1.00 at maturity.
    Discount { base_yield: Decimal },
    /// A bond on a seeded walk around its starting price, one step per day.
    Walk { start: Decimal, now: Decimal },
}

/// An instrument as the sandbox trades it.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The instrument as the API shows it (`days_to_maturity` is filled in when shown).
    pub instrument: Instrument,
    quote: Quote,
    /// A price set through the control plane, held until unpinned.
    pinned: Option<Decimal>,
    /// Whether orders of this instrument wait for an auction (`pending`) before executing.
    pub goes_through_auction: bool,
    /// The bill series it belongs to (its successor is that series' bill on the run).
    series: Option<usize>,
    /// The most units one trade carries; a larger order fills in several trades.
    lot: Decimal,
    /// The instrument's answer as sent, and the day it was rendered for: the rendering is
    /// most of a `GET /instruments/{id}`'s cost, and only `days_to_maturity` moves with
    /// the date. Every change to the listing goes through [`Market::get_mut`], which
    /// forgets it.
    shown: Option<(NaiveDate, Bytes)>,
    /// What its orders show of it (id, name, symbol, type), one copy shared by all of
    /// them: made when it is listed, as those four fields are never changed after.
    summary: Arc<Instrument>,
}

/// The lot every instrument starts with: 10,000 units, so the demo's 100.00 (and any order
/// up to about 9,900.00) fills in one trade.
pub const DEFAULT_LOT: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

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

    /// The maturity date.
    pub fn maturity(&self) -> Option<NaiveDate> {
        self.instrument.maturity_date
    }

    /// Business days between the trade and its settlement: 1 for US and GB issuers, 2 for
    /// every other (contract section 11).
    pub fn settlement_days(&self) -> u32 {
        match self.instrument.issuer_country.as_deref() {
            Some("US" | "GB") => 1,
            _ => 2,
        }
    }

    /// Whether positions in it may roll over.
    pub fn supports_rollover(&self) -> bool {
        self.instrument.supports_automatic_rollover == Some(true)
    }

    /// The business day on which positions with automatic rollover roll into the series'
    /// next bill: as many business days before maturity as the bill takes to settle.
    pub fn rollover_date(&self) -> Option<NaiveDate> {
        if !self.supports_rollover() {
            return None;
        }
        let mut date = self.maturity()?;
        for _ in 0..self.settlement_days() {
            date = previous_business_day(date);
        }
        Some(date)
    }

    /// The price of one unit on `today` (a pinned price wins).
    pub fn price(&self, today: NaiveDate) -> Decimal {
        if let Some(pinned) = self.pinned {
            return pinned;
        }
        match &self.quote {
            Quote::Walk { now, .. } => *now,
            Quote::Discount { base_yield } => {
                let days = self.maturity().map_or(0, |m| (m - today).num_days().max(0));
                discount_price(drifted_yield(*base_yield, today), days)
            }
        }
    }

    /// The most units one trade carries.
    pub fn lot(&self) -> Decimal {
        self.lot
    }

    /// Sets the lot (the control plane bounds it).
    pub fn set_lot(&mut self, lot: Decimal) {
        self.lot = lot;
    }

    /// Whether a price is pinned through the control plane.
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }

    /// The four fields every embedded instrument carries.
    pub fn summary(&self) -> Arc<Instrument> {
        debug_assert!(
            {
                let (kept, now) = (&self.summary, &self.instrument);
                (&kept.id, &kept.name, &kept.symbol, &kept.instrument_type)
                    == (&now.id, &now.name, &now.symbol, &now.instrument_type)
            },
            "{}'s summary fields changed after it was listed",
            self.instrument.id
        );
        Arc::clone(&self.summary)
    }

    /// A listing of `instrument`, quoted by `quote`, with the default lot and no price
    /// pinned.
    fn new(
        instrument: Instrument,
        quote: Quote,
        series: Option<usize>,
        goes_through_auction: bool,
    ) -> Self {
        let summary = Arc::new(Instrument::from(exhaustive::Instrument {
            id: instrument.id.clone(),
            name: instrument.name.clone(),
            symbol: instrument.symbol.clone(),
            instrument_type: instrument.instrument_type.clone(),
            ..exhaustive::Instrument::from(empty_instrument())
        }));
        Self {
            instrument,
            quote,
            pinned: None,
            goes_through_auction,
            series,
            lot: DEFAULT_LOT,
            shown: None,
            summary,
        }
    }

    /// The summary with what a holder needs: the maturity and whether it may roll over.
    pub fn held_summary(&self) -> Instrument {
        Instrument::from(exhaustive::Instrument {
            maturity_date: self.instrument.maturity_date,
            supports_automatic_rollover: self.instrument.supports_automatic_rollover,
            ..exhaustive::Instrument::from(Instrument::clone(&self.summary))
        })
    }

    /// The full instrument, with `days_to_maturity` counted from `today`.
    pub fn full(&self, today: NaiveDate) -> Instrument {
        let mut instrument = self.instrument.clone();
        instrument.days_to_maturity = instrument.maturity_date.map(|m| (m - today).num_days());
        instrument
    }

    /// [`Listing::full`] as JSON, in an allocation of its own size.
    fn render(&self, today: NaiveDate) -> Bytes {
        crate::exact_json(&self.full(today))
    }
}

/// The business day before `date` (Monday to Friday; no holidays, contract section 11).
pub fn previous_business_day(date: NaiveDate) -> NaiveDate {
    let mut day = date - TimeDelta::days(1);
    while is_weekend(day) {
        day -= TimeDelta::days(1);
    }
    day
}

/// The `n`th business day after `date`.
pub fn add_business_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut day = date;
    for _ in 0..n {
        day += TimeDelta::days(1);
        while is_weekend(day) {
            day += TimeDelta::days(1);
        }
    }
    day
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The day the catalogue's prices start from: the documentation's example date, so that a
/// held clock at its default start quotes the seeded prices.
fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 12).expect("a valid date")
}

/// A bill's yield on `today`: its base plus a deterministic drift of up to 0.25 points over
/// a year, zero on the anchor day (rounded to 4 places, so the float never shows).
fn drifted_yield(base: Decimal, today: NaiveDate) -> Decimal {
    let days = (today - anchor()).num_days() as f64;
    let drift = 0.0025 * (days * std::f64::consts::TAU / 365.0).sin();
    let drift = Decimal::from_f64_retain(drift)
        .unwrap_or_default()
        .round_dp(4);
    (base + drift).max(Decimal::ZERO)
}

/// Price per 1.00 of face value of a discount bill `days` from maturity at yield `y`
/// (money-market basis, 360 days), to 4 places.
fn discount_price(y: Decimal, days: i64) -> Decimal {
    let denominator = Decimal::ONE + y * Decimal::from(days) / Decimal::from(360);
    (Decimal::ONE / denominator).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// One step of a bond's walk on `day`: up to ±0.2% of a seeded coin, pulled 5% of the way
/// back toward its start, so the walk stays around it (to 4 places).
fn walk_step(seed: u64, id: &str, day: NaiveDate, now: Decimal, start: Decimal) -> Decimal {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15 ^ u64::from(day.num_days_from_ce().unsigned_abs());
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    // splitmix64's finaliser: every bit of the input reaches the output.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    // -20..=20 basis points of the current price.
    let bps = i64::try_from(h % 41).unwrap_or(0) - 20;
    let moved = now + now * Decimal::new(bps, 4);
    let pulled = moved + (start - moved) * Decimal::new(5, 2);
    pulled.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// A series of bills: one issued every [`ISSUE_EVERY_DAYS`] from the anchor, each maturing
/// `tenor_days` after its issue.
struct Series {
    key: &'static str,
    name: &'static str,
    symbol: &'static str,
    issuer: (&'static str, &'static str, &'static str),
    currency: Currency,
    tenor_days: i64,
    base_yield: Decimal,
}

/// How often each series issues a bill (a Thursday every four weeks from the anchor).
pub const ISSUE_EVERY_DAYS: i64 = 28;

fn series() -> Vec<Series> {
    vec![
        Series {
            key: "us3m",
            name: "US Treasury Bill 3M",
            symbol: "UST3M",
            issuer: ("United States Treasury", "US", "AA+"),
            currency: Currency::Usd,
            tenor_days: 91,
            base_yield: Decimal::new(500, 4),
        },
        Series {
            key: "us6m",
            name: "US Treasury Bill 6M",
            symbol: "UST6M",
            issuer: ("United States Treasury", "US", "AA+"),
            currency: Currency::Usd,
            tenor_days: 182,
            base_yield: Decimal::new(490, 4),
        },
        Series {
            key: "de6m",
            name: "German Treasury Discount Paper 6M",
            symbol: "BUBILL6M",
            issuer: ("Federal Republic of Germany", "DE", "AAA"),
            currency: Currency::Eur,
            tenor_days: 182,
            base_yield: Decimal::new(250, 4),
        },
    ]
}

/// The catalogue: every instrument listed so far, bills added as the clock reaches their
/// issue date.
#[derive(Debug)]
pub struct Market {
    /// Shared, so that a placement takes its listing with a reference count, not a copy
    /// (a change copies only a listing still shared: [`Market::get_mut`]).
    listings: Vec<Arc<Listing>>,
    index: HashMap<String, usize>,
    series: Vec<SeriesState>,
    seed: u64,
    /// The last day whose issues and price steps are done.
    today: NaiveDate,
}

#[derive(Debug)]
struct SeriesState {
    /// The index of the next bill to issue (0 is the one issued on the anchor day).
    next: i64,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl Market {
    /// The catalogue as it stands on `today`: the bonds, and each series' bills still
    /// running (issued on or before `today`, maturing after it).
    pub fn new(seed: u64, today: NaiveDate) -> Self {
        let mut market = Self {
            listings: Vec::new(),
            index: HashMap::default(),
            series: Vec::new(),
            seed,
            today: anchor().min(today),
        };
        for listing in bonds() {
            market.add(listing);
        }
        for (i, s) in series().iter().enumerate() {
            // The first bill still running on `today`.
            let since = (today - anchor()).num_days() - s.tenor_days;
            let first = since.div_euclid(ISSUE_EVERY_DAYS) + 1;
            market.series.push(SeriesState { next: first });
            market.issue_through(i, today);
        }
        // The bonds' walks run from the anchor to `today`.
        market.open_days_through(today);
        market
    }

    fn add(&mut self, listing: Listing) {
        self.index
            .insert(listing.instrument.id.clone(), self.listings.len());
        self.listings.push(Arc::new(listing));
    }

    /// Issues every bill of series `i` due by `today`.
    fn issue_through(&mut self, i: usize, today: NaiveDate) {
        let all = series();
        let s = &all[i];
        loop {
            let n = self.series[i].next;
            let issued = anchor() + TimeDelta::days(n * ISSUE_EVERY_DAYS);
            if issued > today {
                break;
            }
            self.series[i].next += 1;
            self.add(bill(s, i, issued));
        }
    }

    /// Moves the market to `day` (each day in turn): issues the bills due and takes each
    /// bond's daily step.
    pub fn open_days_through(&mut self, day: NaiveDate) {
        while self.today < day {
            self.today += TimeDelta::days(1);
            let today = self.today;
            for i in 0..self.series.len() {
                self.issue_through(i, today);
            }
            let seed = self.seed;
            for listing in &mut self.listings {
                if let Quote::Walk { start, now } = listing.quote {
                    let step = walk_step(seed, &listing.instrument.id, today, now, start);
                    Arc::make_mut(listing).quote = Quote::Walk { start, now: step };
                }
            }
        }
    }

    /// An instrument by id.
    pub fn get(&self, id: &str) -> Option<&Listing> {
        self.index.get(id).map(|&i| &*self.listings[i])
    }

    /// An instrument by id, shared (a reference count, not a copy).
    pub(crate) fn shared(&self, id: &str) -> Option<Arc<Listing>> {
        self.index.get(id).map(|&i| Arc::clone(&self.listings[i]))
    }

    /// An instrument by id, to change: its rendered answer is forgotten.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Listing> {
        let listing = Arc::make_mut(&mut self.listings[*self.index.get(id)?]);
        listing.shown = None;
        Some(listing)
    }

    /// The instrument's JSON answer on `today`: rendered once a day, and again after any
    /// change to it.
    pub(crate) fn shown(&mut self, id: &str, today: NaiveDate) -> Option<Bytes> {
        let listing = Arc::make_mut(&mut self.listings[*self.index.get(id)?]);
        if let Some((day, bytes)) = &listing.shown
            && *day == today
        {
            debug_assert_eq!(
                bytes,
                &listing.render(today),
                "{id}'s kept answer went stale: a change bypassed Market::get_mut"
            );
            return Some(bytes.clone());
        }
        let bytes = listing.render(today);
        listing.shown = Some((today, bytes.clone()));
        Some(bytes)
    }

    /// Every instrument, in listing order.
    pub fn all(&self) -> impl Iterator<Item = &Listing> {
        self.listings.iter().map(|l| &**l)
    }

    /// The bill of `listing`'s series on the run on `today`: the latest issued that has not
    /// matured.
    pub fn successor(&self, listing: &Listing, today: NaiveDate) -> Option<&Listing> {
        let series = listing.series?;
        self.listings
            .iter()
            .rev()
            .map(|l| &**l)
            .find(|l| l.series == Some(series) && l.maturity().is_some_and(|m| m > today))
    }

    /// Pins a price (held until unpinned) or, with `None`, unpins it.
    pub fn pin(listing: &mut Listing, price: Option<Decimal>) {
        listing.pinned = price;
    }
}

/// Bill `s` issued on `issued`.
fn bill(s: &Series, series: usize, issued: NaiveDate) -> Listing {
    let maturity = issued + TimeDelta::days(s.tenor_days);
    let stamp = issued.format("%y%m%d").to_string();
    let months = s.tenor_days / 30;
    let quote = Quote::Discount {
        base_yield: s.base_yield,
    };
    Listing::new(
        Instrument::from(exhaustive::Instrument {
            id: format!("ins_{}_{stamp}", s.key),
            name: format!("{} {}", s.name, maturity.format("%Y-%m-%d")),
            symbol: format!("{}-{}", s.symbol, maturity.format("%y%m%d")),
            instrument_type: InstrumentType::Bill,
            isin: Some(format!("{}B{months:02}{stamp}0", s.issuer.1)),
            ticker: Some(s.symbol.into()),
            issuer: Some(s.issuer.0.into()),
            issuer_country: Some(s.issuer.1.into()),
            issuer_credit_rating: Some(s.issuer.2.into()),
            trading_status: Some(TradingStatus::BuySell),
            trading_currency: Some(s.currency.clone()),
            trading_increment: Some(d("0.01")),
            decimal_precision: Some(2),
            minimum_trading_quantity: Some(d("1.00")),
            minimum_initial_cash_investment: Some(d("10.00")),
            required_cash_increment: Some(RequiredCashIncrement::Decimal(d("0.01"))),
            pro_traders_only: Some(false),
            enforce_trading_rules: Some(true),
            supports_automatic_rollover: Some(true),
            maturity_date: Some(maturity),
            days_to_maturity: None,
            initial_issue_date: Some(issued),
            latest_issue_date: Some(issued),
            initial_auction_date: Some(previous_business_day(previous_business_day(issued))),
            latest_auction_date: Some(previous_business_day(previous_business_day(issued))),
        }),
        quote,
        Some(series),
        true,
    )
}

fn empty_instrument() -> Instrument {
    Instrument::from(exhaustive::Instrument {
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
    })
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
    use InstrumentType::Bond;
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
            id: "ins_bund30",
            name: "Germany 2030 Bund",
            symbol: "DE2030",
            kind: Bond,
            currency: Eur,
            status: BuySell,
            price: "1.012",
            issuer: ("Federal Republic of Germany", "DE", "AAA"),
            pro_only: false,
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

/// The seeded bonds, in listing order.
fn bonds() -> Vec<Listing> {
    seeds()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let start = d(s.price);
            Listing::new(
                Instrument::from(exhaustive::Instrument {
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
                    supports_automatic_rollover: Some(false),
                    maturity_date: Some(date(s.dates[0])),
                    days_to_maturity: None,
                    initial_issue_date: Some(date(s.dates[1])),
                    latest_issue_date: Some(date(s.dates[2])),
                    initial_auction_date: Some(date(s.dates[3])),
                    latest_auction_date: Some(date(s.dates[4])),
                }),
                Quote::Walk { start, now: start },
                None,
                false,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn an_instruments_answer_is_rendered_once_a_day_and_again_after_a_change() {
        let mut market = Market::new(42, day("2026-03-12"));
        let today = day("2026-03-12");
        let first = market.shown("ins_xyz789", today).unwrap();
        let again = market.shown("ins_xyz789", today).unwrap();
        assert_eq!(
            first.as_ptr(),
            again.as_ptr(),
            "the kept bytes, not a rendering"
        );
        let tomorrow = market.shown("ins_xyz789", day("2026-03-13")).unwrap();
        assert_ne!(first.as_ptr(), tomorrow.as_ptr(), "a new day renders again");
        let listing = market.get_mut("ins_xyz789").unwrap();
        listing.instrument.trading_status = Some(TradingStatus::Closed);
        let changed = market.shown("ins_xyz789", day("2026-03-13")).unwrap();
        assert_ne!(
            tomorrow.as_ptr(),
            changed.as_ptr(),
            "a change renders again"
        );
        let shown: serde_json::Value = serde_json::from_slice(&changed).unwrap();
        assert_eq!(shown["trading_status"], "closed");
        assert!(market.shown("ins_nope", today).is_none());
    }

    #[test]
    fn a_listings_orders_share_one_summary_and_a_placement_shares_the_listing() {
        let market = Market::new(42, day("2026-03-12"));
        let listing = market.get("ins_xyz789").unwrap();
        let (one, two) = (listing.summary(), listing.summary());
        assert!(Arc::ptr_eq(&one, &two), "one summary for all its orders");
        assert_eq!(
            (one.id.as_str(), one.name.as_str(), one.symbol.as_str()),
            ("ins_xyz789", "Kenya 2024 Bond A", "KE2024A")
        );
        assert_eq!(one.isin, None, "a summary is four fields");
        let shared = market.shared("ins_xyz789").unwrap();
        assert!(std::ptr::eq(&*shared, listing), "a reference, not a copy");
    }

    #[test]
    fn bills_roll_as_many_business_days_before_maturity_as_they_take_to_settle() {
        let market = Market::new(42, day("2026-03-12"));
        let us = market.get("ins_us3m_260312").unwrap();
        assert_eq!(us.maturity(), Some(day("2026-06-11")));
        assert_eq!(
            us.rollover_date(),
            Some(day("2026-06-10")),
            "T+1: Wednesday"
        );
        let de = market.get("ins_de6m_260312").unwrap();
        assert_eq!(de.maturity(), Some(day("2026-09-10")));
        assert_eq!(de.rollover_date(), Some(day("2026-09-08")), "T+2: Tuesday");
        // Weekends are skipped: from a Monday, one business day back is the Friday.
        assert_eq!(previous_business_day(day("2026-06-15")), day("2026-06-12"));
        assert_eq!(add_business_days(day("2026-06-12"), 1), day("2026-06-15"));
        // Bonds never roll.
        assert_eq!(market.get("ins_xyz789").unwrap().rollover_date(), None);
    }

    #[test]
    fn every_series_has_a_bill_on_the_run_whatever_day_the_clock_starts() {
        for start in ["2026-03-12", "2026-12-01", "2031-07-19", "2199-12-31"] {
            let today = day(start);
            let market = Market::new(42, today);
            for key in ["us3m", "us6m", "de6m"] {
                let running: Vec<_> = market
                    .all()
                    .filter(|l| l.instrument.id.starts_with(&format!("ins_{key}_")))
                    .collect();
                let first = running.first().expect("a bill of each series");
                let next = market.successor(first, today).unwrap();
                assert!(next.maturity().unwrap() > today, "{start} {key}");
                assert!(
                    next.instrument.initial_issue_date.unwrap() <= today,
                    "{start} {key}: issued already"
                );
            }
        }
        // In real time on 2026-12-01 the documentation's bill has matured and is not listed.
        assert!(
            Market::new(42, day("2026-12-01"))
                .get("ins_us3m_260312")
                .is_none()
        );
    }

    #[test]
    fn a_bill_accretes_to_par_and_quotes_the_documented_price_on_the_example_day() {
        let market = Market::new(42, day("2026-03-12"));
        let bill = market.get("ins_us3m_260312").unwrap();
        assert_eq!(bill.price(day("2026-03-12")).to_string(), "0.9875");
        assert_eq!(bill.price(day("2026-06-11")), Decimal::ONE);
        assert!(bill.price(day("2026-05-01")) > bill.price(day("2026-04-01")));
    }
}
