//! One read interface over the time-series engines: a [`Request`] says *what* to read (a measurement's
//! fields, tag equalities, a time range, raw rows or per-window aggregates), [`Client::read`] asks the
//! engine `influx.read_backend` names, and every engine answers the same [`Group`]s of [`Row`]s.
//!
//! * [`influxql`]: InfluxDB 1.x, 2.x and 3 (v1 `/query`): each request becomes one InfluxQL statement with
//!   every value bound (`$name`), and a batch of requests travels in one HTTP request.
//! * [`victoria`]: VictoriaMetrics (single node, or vmselect behind `influx.read_prefix`): the raw samples
//!   of the metrics `{measurement}_{field}` from `/api/v1/export`, aggregated here with InfluxQL's meaning
//!   (windows aligned to the epoch and dated at their start, `[from, to)`, windows without data absent, a
//!   sample written twice at one time answers with the later value, as InfluxDB's overwrite).
//!
//! The measurement, field and tag *names* come from the callers' constants and closed enums; tag values and
//! times are data and never become query text on either engine (bound parameters; label values escaped in a
//! series selector).

pub mod influxql;
pub mod victoria;

use chrono::{DateTime, NaiveTime, Utc};

use crate::{Client, QueryError, ReadBackend};

/// An aggregate per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// Arithmetic mean.
    Mean,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Earliest value.
    First,
    /// Latest value.
    Last,
    /// Number of values.
    Count,
}

impl Agg {
    /// The InfluxQL function.
    pub fn function(self) -> &'static str {
        match self {
            Agg::Mean => "mean",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::First => "first",
            Agg::Last => "last",
            Agg::Count => "count",
        }
    }
}

/// What a request returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The stored rows in time order (`newest_first`: reversed), at most `limit`.
    Raw {
        /// Newest row first.
        newest_first: bool,
        /// At most this many rows.
        limit: Option<usize>,
    },
    /// The latest value of each field in the range, dated at the latest of them (InfluxQL `last()` without
    /// `GROUP BY time`): one row or none.
    Latest,
    /// `agg` of each field per window of `window_s` seconds aligned to the epoch, dated at its start;
    /// windows where every field is empty are absent; one group per value of the tag `by` when set.
    Windows {
        /// The aggregate.
        agg: Agg,
        /// Window length in seconds (at least 1).
        window_s: u64,
        /// Group by this tag's value as well.
        by: Option<String>,
    },
    /// `agg` of each field per local day of zone `tz` that begins at local time `at` (and ends at `at` the
    /// next day), dated at its start; **every** window from the one holding the range's start to the one
    /// holding its end is there, an empty one with every value `None` (InfluxQL `GROUP BY time(1d, at)
    /// fill(null) tz(…)`). Needs a range. A day whose `at` does not exist locally (a DST gap) has none:
    /// the day before lasts until the next one. InfluxDB may shift a window next to a DST change, so a
    /// caller checks the dates it relies on.
    Days {
        /// The aggregate.
        agg: Agg,
        /// The zone of the local days.
        tz: chrono_tz::Tz,
        /// The local time a day begins at (whole minutes).
        at: NaiveTime,
    },
}

/// One read: `fields` of `measurement` where every tag of `tags` equals its value and every tag of
/// `tags_in` one of its values, in `range` (`[from, to)`; none: all time); one [`Group`] per value of the
/// tag `by` when set (or of [`Shape::Windows`]'s `by`).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The measurement.
    pub measurement: String,
    /// The retention policy the measurement is in (InfluxQL `"rp"."measurement"`); `None`: the database's
    /// default. Engines without retention policies (VictoriaMetrics) ignore it.
    pub retention_policy: Option<String>,
    /// The fields, in the order of a [`Row`]'s values.
    pub fields: Vec<String>,
    /// Tag equalities, all of which must hold.
    pub tags: Vec<(String, String)>,
    /// Tags with a set of values, one of which each must have (an empty set matches nothing).
    pub tags_in: Vec<(String, Vec<String>)>,
    /// Group the answer by this tag's value (every shape).
    pub by: Option<String>,
    /// `[from, to)`.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// What comes back.
    pub shape: Shape,
}

impl Request {
    /// Raw rows of `fields` of `measurement`, oldest first, no tag filter and no range yet.
    pub fn raw(measurement: &str, fields: &[&str]) -> Self {
        Self {
            measurement: measurement.into(),
            retention_policy: None,
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            tags: Vec::new(),
            tags_in: Vec::new(),
            by: None,
            range: None,
            shape: Shape::Raw {
                newest_first: false,
                limit: None,
            },
        }
    }

    /// Reads the measurement from retention policy `rp` instead of the database's default.
    pub fn in_retention_policy(mut self, rp: &str) -> Self {
        self.retention_policy = Some(rp.into());
        self
    }

    /// Adds the condition `tag = value`.
    pub fn tag(mut self, tag: &str, value: &str) -> Self {
        self.tags.push((tag.into(), value.into()));
        self
    }

    /// Adds the condition that `tag` is one of `values`.
    pub fn tag_in<S: AsRef<str>>(mut self, tag: &str, values: &[S]) -> Self {
        self.tags_in.push((
            tag.into(),
            values.iter().map(|v| v.as_ref().to_string()).collect(),
        ));
        self
    }

    /// One group per value of `tag`.
    pub fn by(mut self, tag: &str) -> Self {
        self.by = Some(tag.into());
        self
    }

    /// The tag the answer is grouped by: [`Request::by`], else [`Shape::Windows`]'s.
    pub fn group_tag(&self) -> Option<&str> {
        match (&self.by, &self.shape) {
            (Some(b), _) => Some(b),
            (None, Shape::Windows { by, .. }) => by.as_deref(),
            _ => None,
        }
    }

    /// Restricts to `[from, to)`.
    pub fn range(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        self.range = Some((from, to));
        self
    }

    /// Sets what comes back.
    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// Newest rows first, at most `limit`.
    pub fn newest(self, limit: usize) -> Self {
        self.shape(Shape::Raw {
            newest_first: true,
            limit: Some(limit),
        })
    }

    /// Oldest rows first, at most `limit`.
    pub fn oldest(self, limit: usize) -> Self {
        self.shape(Shape::Raw {
            newest_first: false,
            limit: Some(limit),
        })
    }

    /// `agg` per window of `window_s` seconds.
    pub fn windows(self, agg: Agg, window_s: u64) -> Self {
        self.shape(Shape::Windows {
            agg,
            window_s,
            by: None,
        })
    }
}

/// One row: a time (epoch ms) and a value per requested field (`None`: that field has none there).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Epoch milliseconds.
    pub ms: i64,
    /// One value per field of the request.
    pub values: Vec<Option<f64>>,
}

impl Row {
    /// The time, if representable.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.ms)
    }

    /// `(time, value of the first field)` when both exist.
    pub fn point(&self) -> Option<(DateTime<Utc>, f64)> {
        Some((self.time()?, (*self.values.first()?)?))
    }
}

/// The rows of one group (the value of the request's [`Request::group_tag`], else `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The group's tag value.
    pub tag: Option<String>,
    /// Rows in the order the shape says.
    pub rows: Vec<Row>,
}

/// `(time, first field)` of every row of the first group, in its order.
pub fn points(groups: &[Group]) -> Vec<(DateTime<Utc>, f64)> {
    groups
        .first()
        .map(|g| g.rows.iter().filter_map(Row::point).collect())
        .unwrap_or_default()
}

impl Client {
    /// The engine reads go to (`influx.read_backend`).
    pub fn read_backend(&self) -> ReadBackend {
        self.config.read_backend
    }

    /// Runs one request on the configured engine.
    pub async fn read(&self, request: &Request) -> Result<Vec<Group>, QueryError> {
        let mut all = self.read_all(std::slice::from_ref(request)).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Runs several requests (one HTTP request on InfluxDB, concurrent exports on VictoriaMetrics); the
    /// groups of each, in order. Fails if any fails.
    pub async fn read_all(&self, requests: &[Request]) -> Result<Vec<Vec<Group>>, QueryError> {
        // A tag that must take one of no values matches nothing: not asked.
        let asked: Vec<Request> = requests
            .iter()
            .filter(|r| r.tags_in.iter().all(|(_, v)| !v.is_empty()))
            .cloned()
            .collect();
        let mut answers = if asked.is_empty() {
            Vec::new()
        } else {
            match self.config.read_backend {
                ReadBackend::Influx => influxql::read_all(self, &asked).await?,
                ReadBackend::VictoriaMetrics => victoria::read_all(self, &asked).await?,
            }
        }
        .into_iter();
        Ok(requests
            .iter()
            .map(|r| {
                if r.tags_in.iter().all(|(_, v)| !v.is_empty()) {
                    answers.next().unwrap_or_default()
                } else {
                    Vec::new()
                }
            })
            .collect())
    }
}
