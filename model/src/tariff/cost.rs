//! The cost of metered energy under a site's tariffs, interval by interval, to the cent.
//!
//! A [`Schedule`] is the tariff versions of one site. [`Schedule::bill`] prices each [`Interval`] (the
//! energy imported and exported between two counter edges) with the version valid on the interval's local
//! start date, at the price in force at its start (dynamic price, else the first matching time-of-use
//! window, else the Arbeitspreis), and adds the Grundpreis of each local day of the period, and the demand
//! charge of each day at the [`Peak`]s the schedule was given ([`Schedule::with_peaks`], see
//! [`demand`](super::demand)). Each version gets its own [`TariffLine`] as on a bill: net energy, base and
//! demand charge rounded to the cent, VAT on the rounded net, feed-in credit separately.

use chrono::TimeZone;
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use serde::Serialize;

use super::demand::{Peak, day_nano_cents};
use super::{Tariff, milli, minutes};
use crate::Id;
use crate::report::Medium;

const NANO_PER_CENT: i128 = 1_000_000_000;

/// Energy of one interval starting at `start` (its end is the next interval's start). For a water tariff
/// (priced per m³) the `_wh` fields hold litres: thousandths of the price's unit, as Wh are of kWh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Start of the interval.
    pub start: DateTime<Utc>,
    /// Imported energy, Wh; `None` when unknown.
    pub import_wh: Option<f64>,
    /// Exported energy, Wh; `None` when unknown or not metered.
    pub export_wh: Option<f64>,
}

/// The tariff versions that apply to one site.
#[derive(Debug, Clone)]
pub struct Schedule<'a, Z: TimeZone> {
    tz: Z,
    tariffs: Vec<&'a Tariff>,
    peaks: Vec<Peak>,
}

/// The cost under one tariff version within a period, in cents of its currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TariffLine {
    /// Tariff id.
    pub id: String,
    /// First date of the version.
    pub valid_from: NaiveDate,
    /// Currency.
    pub currency: String,
    /// VAT rate, percent.
    pub vat_percent: f64,
    /// Imported energy priced under it, Wh.
    pub import_wh: f64,
    /// Exported energy credited under it, Wh.
    pub export_wh: f64,
    /// Energy (Arbeitspreis, windows, dynamic), net cents.
    pub energy_net_cents: i64,
    /// Grundpreis for its days in the period, net cents.
    pub base_net_cents: i64,
    /// Leistungspreis for its days in the period, net cents (0 without a demand charge).
    pub demand_net_cents: i64,
    /// `energy_net_cents + base_net_cents + demand_net_cents`.
    pub net_cents: i64,
    /// VAT on `net_cents`.
    pub vat_cents: i64,
    /// `net_cents + vat_cents`.
    pub gross_cents: i64,
    /// Feed-in payment for the exported energy, cents (no VAT).
    pub feed_in_cents: i64,
}

/// The cost of a period: one line per tariff version that applied, and their sums.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bill {
    /// One line per version, oldest first.
    pub lines: Vec<TariffLine>,
    /// Sum of the lines' net energy cost, cents.
    pub energy_net_cents: i64,
    /// Sum of the base charges, cents.
    pub base_net_cents: i64,
    /// Sum of the demand charges, cents.
    pub demand_net_cents: i64,
    /// Sum of net, cents.
    pub net_cents: i64,
    /// Sum of VAT, cents.
    pub vat_cents: i64,
    /// Sum of gross, cents.
    pub gross_cents: i64,
    /// Sum of feed-in credits, cents.
    pub feed_in_cents: i64,
    /// Every interval with energy had a tariff and a price, and every day with a demand charge its peak
    /// (false: the sums leave something out).
    pub priced: bool,
}

#[derive(Default)]
struct Acc {
    import_wh: f64,
    export_wh: f64,
    energy_nc: i128,
    base_nc: i128,
    demand_nc: i128,
    feed_nc: i128,
}

/// `nc` nano-cents to cents, half away from zero.
pub(crate) fn cents(nc: i128) -> i64 {
    let half = NANO_PER_CENT / 2;
    let r = if nc >= 0 {
        (nc + half) / NANO_PER_CENT
    } else {
        (nc - half) / NANO_PER_CENT
    };
    r as i64
}

/// Wh to milli-Wh.
fn mwh(wh: f64) -> i128 {
    (wh * 1000.0).round() as i128
}

impl<'a, Z: TimeZone> Schedule<'a, Z> {
    /// The electricity tariff versions of `tariffs` that name `site`, oldest first, read in the local time
    /// `tz`.
    pub fn for_site(tariffs: &'a [Tariff], site: &Id, tz: Z) -> Self {
        Self::for_medium(tariffs, site, Medium::Electricity, tz)
    }

    /// The versions of `tariffs` pricing `medium` that name `site`, oldest first, read in the local time `tz`.
    pub fn for_medium(tariffs: &'a [Tariff], site: &Id, medium: Medium, tz: Z) -> Self {
        let mut mine: Vec<&Tariff> = tariffs
            .iter()
            .filter(|t| t.medium == medium && t.sites.contains(site))
            .collect();
        mine.sort_by_key(|t| t.valid_from);
        Self {
            tz,
            tariffs: mine,
            peaks: Vec::new(),
        }
    }

    /// The same schedule charging its demand charges at `peaks` (one per billing year the billed days
    /// touch; a day whose billing year has none leaves the bill unpriced).
    pub fn with_peaks(mut self, peaks: Vec<Peak>) -> Self {
        self.peaks = peaks;
        self
    }

    /// Whether any version has a demand charge.
    pub fn has_demand(&self) -> bool {
        self.tariffs.iter().any(|t| t.demand_eur_per_kw_year > 0.0)
    }

    /// The versions, oldest first.
    pub fn tariffs(&self) -> &[&'a Tariff] {
        &self.tariffs
    }

    /// One tariff for every date (e.g. the flat default), whatever its validity.
    pub fn only(tariff: &'a Tariff, tz: Z) -> Self {
        Self {
            tz,
            tariffs: vec![tariff],
            peaks: Vec::new(),
        }
    }

    /// No version applies, ever.
    pub fn is_empty(&self) -> bool {
        self.tariffs.is_empty()
    }

    /// The version valid on `date` (the only one of [`Schedule::only`]).
    pub fn at(&self, date: NaiveDate) -> Option<&'a Tariff> {
        match self.tariffs.as_slice() {
            [only] if only.sites.is_empty() => Some(only),
            all => all.iter().copied().find(|t| t.valid_on(date)),
        }
    }

    /// The longest interval that prices exactly: a local day for flat prices, an hour for time-of-use
    /// windows on whole hours and hourly prices, else 15 minutes.
    pub fn step(&self) -> TimeDelta {
        let quarter = self.tariffs.iter().any(|t| {
            t.windows.iter().any(|w| {
                [&w.from, &w.to]
                    .iter()
                    .any(|s| minutes(s).is_some_and(|m| m % 60 != 0))
            }) || t
                .dynamic
                .as_ref()
                .and_then(|d| d.prices.as_ref())
                .is_some_and(|p| p.step() < TimeDelta::hours(1))
        });
        let hourly = self
            .tariffs
            .iter()
            .any(|t| !t.windows.is_empty() || t.dynamic.is_some());
        if quarter {
            TimeDelta::minutes(15)
        } else if hourly {
            TimeDelta::hours(1)
        } else {
            TimeDelta::days(1)
        }
    }

    /// Net price in milli-cent per kWh (per m³ for water) of `t` at `at`; `None` for a dynamic tariff
    /// without a price then.
    pub fn price(&self, t: &Tariff, at: DateTime<Utc>) -> Option<i64> {
        if t.medium == Medium::Water {
            return milli(t.ct_per_m3);
        }
        if let Some(d) = &t.dynamic {
            let spot = d.prices.as_ref()?.at(at)?;
            return Some(spot + milli(d.markup_ct_per_kwh)?);
        }
        let local = at.with_timezone(&self.tz);
        let minute = local.hour() * 60 + local.minute();
        let date = local.date_naive();
        // On a holiday the windows applying on it go first.
        let w = t
            .windows
            .iter()
            .find(|w| w.on_holiday(date) && w.contains(date, minute))
            .or_else(|| t.windows.iter().find(|w| w.contains(date, minute)));
        milli(w.map_or(t.energy_ct_per_kwh, |w| w.ct_per_kwh))
    }

    /// The cost of `intervals` and of the base charge of the local `days` of the period.
    pub fn bill(&self, intervals: &[Interval], days: &[NaiveDate]) -> Bill {
        let mut acc: Vec<(&Tariff, Acc)> = Vec::new();
        fn slot<'t>(acc: &mut Vec<(&'t Tariff, Acc)>, t: &'t Tariff) -> usize {
            match acc.iter().position(|(u, _)| std::ptr::eq(*u, t)) {
                Some(i) => i,
                None => {
                    acc.push((t, Acc::default()));
                    acc.len() - 1
                }
            }
        }
        let mut priced = true;
        for iv in intervals {
            let date = iv.start.with_timezone(&self.tz).date_naive();
            let (imp, exp) = (iv.import_wh.unwrap_or(0.0), iv.export_wh.unwrap_or(0.0));
            let Some(t) = self.at(date) else {
                priced &= imp == 0.0 && exp == 0.0;
                continue;
            };
            let i = slot(&mut acc, t);
            let a = &mut acc[i].1;
            match self.price(t, iv.start) {
                Some(p) => {
                    a.import_wh += imp;
                    a.energy_nc += mwh(imp) * i128::from(p);
                }
                None => priced &= imp == 0.0,
            }
            a.export_wh += exp;
            a.feed_nc += mwh(exp) * i128::from(milli(t.feed_in_ct_per_kwh).unwrap_or(0));
        }
        for &d in days {
            if let Some(t) = self.at(d) {
                let month_mct = i128::from(milli(t.base_eur_per_month).unwrap_or(0)) * 100;
                let i = slot(&mut acc, t);
                acc[i].1.base_nc += month_mct * 1_000_000 / i128::from(Tariff::days_in_month(d));
                match day_nano_cents(t, d, &self.peaks) {
                    Some(nc) => acc[i].1.demand_nc += nc,
                    None => priced = false,
                }
            }
        }
        acc.sort_by_key(|(t, _)| t.valid_from);
        let mut bill = Bill {
            priced,
            ..Bill::default()
        };
        for (t, a) in acc {
            let (energy, base, demand) = (cents(a.energy_nc), cents(a.base_nc), cents(a.demand_nc));
            let net = energy + base + demand;
            let bp = (t.vat_percent * 100.0).round() as i128;
            let vat = cents(i128::from(net) * bp * NANO_PER_CENT / 10_000);
            let line = TariffLine {
                id: t.id.as_str().to_string(),
                valid_from: t.valid_from,
                currency: t.currency.clone(),
                vat_percent: t.vat_percent,
                import_wh: a.import_wh,
                export_wh: a.export_wh,
                energy_net_cents: energy,
                base_net_cents: base,
                demand_net_cents: demand,
                net_cents: net,
                vat_cents: vat,
                gross_cents: net + vat,
                feed_in_cents: cents(a.feed_nc),
            };
            bill.energy_net_cents += line.energy_net_cents;
            bill.base_net_cents += line.base_net_cents;
            bill.demand_net_cents += line.demand_net_cents;
            bill.net_cents += line.net_cents;
            bill.vat_cents += line.vat_cents;
            bill.gross_cents += line.gross_cents;
            bill.feed_in_cents += line.feed_in_cents;
            bill.lines.push(line);
        }
        bill
    }
}
