//! The VictoriaMetrics backend: a [`Request`] reads the raw samples of its fields (metrics
//! `{measurement}_{field}`, tags as labels) from `{read_prefix}/api/v1/export`, and shapes them here with
//! InfluxQL's meaning, so both engines answer the same rows:
//!
//! * the range is `[from, to)` (export's end is inclusive; the edge is filtered here);
//! * a sample written twice at one time (VictoriaMetrics keeps both, in write order) counts once, with the
//!   later value, as InfluxDB overwrites the point;
//! * windows are aligned to the epoch, dated at their start, absent when every field is empty;
//! * the series of a request's selector (e.g. written once with and once without the `db` label) merge.
//!
//! Reading raw samples costs time in proportion to the samples in the range (about what InfluxDB reads for
//! the same aggregate); a batch runs its exports concurrently. Label values are escaped in the selector,
//! never spliced raw.

use std::collections::BTreeMap;

use futures_util::future::try_join_all;
use reqwest::Url;
use serde::Deserialize;

use crate::client::{error_message, transport_message};
use crate::read::{Agg, Group, Request, Row, Shape};
use crate::{Client, QueryError};

/// The series selectors (`match[]`) of a request: one per field.
pub fn selectors(r: &Request) -> Vec<String> {
    r.fields
        .iter()
        .map(|f| {
            let mut s = format!(
                "{{__name__=\"{}\"",
                label_value(&format!("{}_{f}", r.measurement))
            );
            for (tag, value) in &r.tags {
                s.push_str(&format!(",{tag}=\"{}\"", label_value(value)));
            }
            for (tag, values) in &r.tags_in {
                let any: Vec<String> = values.iter().map(|v| regex_literal(v)).collect();
                s.push_str(&format!(",{tag}=~\"{}\"", label_value(&any.join("|"))));
            }
            s.push('}');
            s
        })
        .collect()
}

/// Runs every request's export concurrently.
pub(crate) async fn read_all(client: &Client, requests: &[Request]) -> Result<Vec<Vec<Group>>, QueryError> {
    try_join_all(requests.iter().map(|r| read(client, r))).await
}

#[derive(Deserialize)]
struct ExportLine {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<serde_json::Value>,
    #[serde(default)]
    timestamps: Vec<i64>,
}

async fn read(client: &Client, r: &Request) -> Result<Vec<Group>, QueryError> {
    let mut form = Url::parse("http://form.invalid/").map_err(|e| QueryError::Decode(e.to_string()))?;
    {
        let mut pairs = form.query_pairs_mut();
        for s in selectors(r) {
            pairs.append_pair("match[]", &s);
        }
        if let Some((from, to)) = r.range {
            pairs.append_pair("start", &seconds(from.timestamp_millis()));
            pairs.append_pair("end", &seconds(to.timestamp_millis() - 1));
        }
    }
    let body = form.query().unwrap_or_default().to_string();
    let mut url = client.base.clone();
    url.set_path(&format!("{}/api/v1/export", client.config.read_prefix));
    let resp = client
        .victoria_send(
            client
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
        )
        .await?;
    let text = resp
        .text()
        .await
        .map_err(|e| QueryError::Unavailable(transport_message(&e)))?;
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        lines.push(serde_json::from_str::<ExportLine>(line).map_err(|e| QueryError::Decode(e.to_string()))?);
    }
    Ok(shape(r, lines))
}

impl Client {
    /// The series (label sets, `__name__` included) VictoriaMetrics holds whose label `tag` is `value`, over
    /// all time (`/api/v1/series` from the epoch's first second: without `start`, or with 0, it answers only the
    /// last day).
    pub async fn victoria_series(
        &self,
        tag: &str,
        value: &str,
    ) -> Result<Vec<BTreeMap<String, String>>, QueryError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            data: Vec<BTreeMap<String, String>>,
        }
        let resp = self
            .victoria_post(
                &format!("{}/api/v1/series", self.config.read_prefix),
                &[("match[]", &label_selector(tag, value)), ("start", "1")],
            )
            .await?;
        let answer: Answer = resp.json().await.map_err(|e| QueryError::Decode(e.to_string()))?;
        Ok(answer.data)
    }

    /// Deletes every series whose label `tag` is `value`, whole (all its samples), with
    /// `/api/v1/admin/tsdb/delete_series`: on a single node behind `read_prefix`, on a cluster's vmselect
    /// at `/delete/{tenant}/prometheus` when `read_prefix` is `/select/{tenant}/prometheus`.
    pub async fn victoria_delete_series(&self, tag: &str, value: &str) -> Result<(), QueryError> {
        let prefix = match self.config.read_prefix.strip_prefix("/select/") {
            Some(rest) => format!("/delete/{rest}"),
            None => self.config.read_prefix.clone(),
        };
        self.victoria_post(
            &format!("{prefix}/api/v1/admin/tsdb/delete_series"),
            &[("match[]", &label_selector(tag, value))],
        )
        .await
        .map(|_| ())
    }

    /// The server's `-dedup.minScrapeInterval` from its `/flags` page (which lists the flags set), or `None`
    /// when it is not set: without it VictoriaMetrics stores a reading delivered twice as two samples.
    pub async fn victoria_dedup_interval(&self) -> Result<Option<String>, QueryError> {
        let mut url = self.base.clone();
        url.set_path("/flags");
        let resp = self.victoria_send(self.http.get(url)).await?;
        let text = resp.text().await.map_err(|e| QueryError::Decode(e.to_string()))?;
        Ok(dedup_flag(&text))
    }

    /// `POST path` with a form body; a non-2xx answer is an error.
    async fn victoria_post(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Result<reqwest::Response, QueryError> {
        let mut form = Url::parse("http://form.invalid/").map_err(|e| QueryError::Decode(e.to_string()))?;
        form.query_pairs_mut().extend_pairs(pairs);
        let mut url = self.base.clone();
        url.set_path(path);
        self.victoria_send(
            self.http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.query().unwrap_or_default().to_string()),
        )
        .await
    }

    /// Sends `req` with the client's credentials; a transport failure is `Unavailable`, a non-2xx answer
    /// `Server` with the body's message.
    async fn victoria_send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, QueryError> {
        let resp = self
            .auth(req)
            .send()
            .await
            .map_err(|e| QueryError::Unavailable(transport_message(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(QueryError::Server {
                status: status.as_u16(),
                message: error_message(resp).await,
            });
        }
        Ok(resp)
    }
}

/// `-dedup.minScrapeInterval`'s value on a `/flags` page (`-name="value"` per line), unless unset or 0.
fn dedup_flag(flags: &str) -> Option<String> {
    flags
        .lines()
        .find_map(|l| l.trim().strip_prefix("-dedup.minScrapeInterval="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| {
            let number = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            number.parse::<f64>().is_ok_and(|n| n > 0.0)
        })
}

/// The selector of every series with label `tag` equal to `value`.
fn label_selector(tag: &str, value: &str) -> String {
    format!("{{{tag}=\"{}\"}}", label_value(value))
}

/// Per group (tag value) and field: the samples, sorted by time, one per time (the later written).
type Samples = BTreeMap<Option<String>, Vec<Vec<(i64, f64)>>>;

fn shape(r: &Request, lines: Vec<ExportLine>) -> Vec<Group> {
    let by = r.group_tag();
    let range = r.range.map(|(a, b)| (a.timestamp_millis(), b.timestamp_millis()));
    let mut samples: Samples = BTreeMap::new();
    for line in lines {
        let Some(name) = line.metric.get("__name__") else {
            continue;
        };
        let Some(field) = r
            .fields
            .iter()
            .position(|f| *name == format!("{}_{f}", r.measurement))
        else {
            continue;
        };
        let key = by.map(|b| line.metric.get(b).cloned().unwrap_or_default());
        let per_field = samples
            .entry(key)
            .or_insert_with(|| vec![Vec::new(); r.fields.len()]);
        per_field[field].extend(
            line.timestamps
                .iter()
                .zip(&line.values)
                .filter(|(t, _)| range.is_none_or(|(a, b)| a <= **t && **t < b))
                .filter_map(|(t, v)| Some((*t, v.as_f64()?))),
        );
    }
    let mut out = Vec::new();
    for (tag, mut per_field) in samples {
        for s in &mut per_field {
            // Stable: of samples at one time, the later written stays last, and is kept.
            s.sort_by_key(|p| p.0);
            let mut kept: Vec<(i64, f64)> = Vec::with_capacity(s.len());
            for p in s.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.0 == p.0 => *last = p,
                    _ => kept.push(p),
                }
            }
            *s = kept;
        }
        let rows = rows(&r.shape, range, &per_field);
        if !rows.is_empty() {
            out.push(Group { tag, rows });
        }
    }
    out
}

fn rows(shape: &Shape, range: Option<(i64, i64)>, per_field: &[Vec<(i64, f64)>]) -> Vec<Row> {
    let n = per_field.len();
    match shape {
        Shape::Raw { newest_first, limit } => {
            let mut at: BTreeMap<i64, Vec<Option<f64>>> = BTreeMap::new();
            for (k, s) in per_field.iter().enumerate() {
                for &(t, v) in s {
                    at.entry(t).or_insert_with(|| vec![None; n])[k] = Some(v);
                }
            }
            let mut rows: Vec<Row> = at.into_iter().map(|(ms, values)| Row { ms, values }).collect();
            if *newest_first {
                rows.reverse();
            }
            if let Some(l) = limit {
                rows.truncate(*l);
            }
            rows
        }
        Shape::Latest => {
            let last: Vec<Option<(i64, f64)>> = per_field.iter().map(|s| s.last().copied()).collect();
            match last.iter().flatten().map(|p| p.0).max() {
                Some(ms) => vec![Row {
                    ms,
                    values: last.iter().map(|p| p.map(|p| p.1)).collect(),
                }],
                None => Vec::new(),
            }
        }
        Shape::Windows { agg, window_s, .. } => {
            let w = i64::try_from(*window_s)
                .unwrap_or(i64::MAX)
                .max(1)
                .saturating_mul(1000);
            let mut at: BTreeMap<i64, Vec<Option<f64>>> = BTreeMap::new();
            for (k, s) in per_field.iter().enumerate() {
                let mut i = 0;
                while i < s.len() {
                    let start = s[i].0.div_euclid(w) * w;
                    let j = i + s[i..].partition_point(|p| p.0 < start + w);
                    at.entry(start).or_insert_with(|| vec![None; n])[k] = aggregate(*agg, &s[i..j]);
                    i = j;
                }
            }
            at.into_iter().map(|(ms, values)| Row { ms, values }).collect()
        }
        Shape::Days { agg, tz, at } => {
            let Some((from, to)) = range else {
                return Vec::new();
            };
            let starts = day_starts(*tz, *at, from, to);
            starts
                .windows(2)
                .filter(|w| w[1] > from && w[0] < to)
                .map(|w| Row {
                    ms: w[0],
                    values: per_field
                        .iter()
                        .map(|s| {
                            let i = s.partition_point(|p| p.0 < w[0]);
                            let j = s.partition_point(|p| p.0 < w[1]);
                            if i < j { aggregate(*agg, &s[i..j]) } else { None }
                        })
                        .collect(),
                })
                .collect()
        }
    }
}

/// The starts (epoch ms) of the local days of `tz` beginning at `at`, from the one before `from` to the
/// first at or after `to`; a day whose `at` falls in a DST gap has none.
fn day_starts(tz: chrono_tz::Tz, at: chrono::NaiveTime, from: i64, to: i64) -> Vec<i64> {
    use chrono::TimeZone as _;
    let local = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive()
    };
    let mut day = local(from).pred_opt().unwrap_or(chrono::NaiveDate::MIN);
    let last = local(to).succ_opt().unwrap_or(chrono::NaiveDate::MAX);
    let mut starts = Vec::new();
    while day <= last {
        if let Some(t) = tz.from_local_datetime(&day.and_time(at)).earliest() {
            starts.push(t.timestamp_millis());
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    starts
}

/// `agg` of a window's samples (time order, at least one).
fn aggregate(agg: Agg, s: &[(i64, f64)]) -> Option<f64> {
    let values = s.iter().map(|p| p.1);
    match agg {
        Agg::Mean => Some(values.sum::<f64>() / s.len() as f64),
        Agg::Min => values.reduce(f64::min),
        Agg::Max => values.reduce(f64::max),
        Agg::First => s.first().map(|p| p.1),
        Agg::Last => s.last().map(|p| p.1),
        Agg::Count => Some(s.len() as f64),
    }
}

/// Epoch milliseconds as seconds with three decimals, as export's `start` and `end` take them.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `v` as a regular expression matching exactly it (RE2 metacharacters escaped).
fn regex_literal(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A label value inside double quotes.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    #[test]
    fn the_dedup_flag_is_read_from_the_flags_page() {
        let page = "-dedup.minScrapeInterval=\"1ms\"\n-httpListenAddr=\"127.0.0.1:8428\"\n";
        assert_eq!(dedup_flag(page), Some("1ms".into()));
        assert_eq!(dedup_flag("-httpListenAddr=\":8428\"\n"), None);
        assert_eq!(dedup_flag("-dedup.minScrapeInterval=\"0s\"\n"), None);
        assert_eq!(
            dedup_flag("-dedup.minScrapeInterval=\"1.5s\""),
            Some("1.5s".into())
        );
    }

    fn line(name: &str, device: &str, samples: &[(i64, f64)]) -> ExportLine {
        ExportLine {
            metric: [("__name__", name), ("device", device)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            values: samples.iter().map(|p| serde_json::json!(p.1)).collect(),
            timestamps: samples.iter().map(|p| p.0).collect(),
        }
    }

    #[test]
    fn selectors_escape_values() {
        let r = Request::raw("readings", &["active_power"]).tag("device", "a\"b\\");
        assert_eq!(
            selectors(&r),
            ["{__name__=\"readings_active_power\",device=\"a\\\"b\\\\\"}"]
        );
    }

    #[test]
    fn a_set_of_values_is_an_escaped_alternation() {
        let r = Request::raw("q", &["first_ms"]).tag_in("device", &["a.b", "c"]);
        assert_eq!(selectors(&r), ["{__name__=\"q_first_ms\",device=~\"a\\\\.b|c\"}"]);
    }

    #[test]
    fn local_days_from_a_time_of_day_are_all_there() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").timestamp_millis();
        let at = chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("time");
        let days = Request::raw("m", &["a"])
            .range(
                DateTime::from_timestamp_millis(t("2026-03-27T23:00:00Z")).expect("from"),
                DateTime::from_timestamp_millis(t("2026-03-30T22:00:00Z")).expect("to"),
            )
            .by("device")
            .shape(Shape::Days {
                agg: Agg::First,
                tz: chrono_tz::Europe::Berlin,
                at,
            });
        // Samples on the 28th at 08:00 and 09:00 local (CET), none on the 29th (DST starts at 02:00).
        let lines = vec![line(
            "m_a",
            "x",
            &[(t("2026-03-28T07:00:00Z"), 1.0), (t("2026-03-28T08:00:00Z"), 2.0)],
        )];
        let groups = shape(&days, lines);
        let rows: Vec<(i64, Option<f64>)> = groups[0].rows.iter().map(|r| (r.ms, r.values[0])).collect();
        assert_eq!(
            rows,
            [
                (t("2026-03-27T06:00:00Z"), None),
                (t("2026-03-28T06:00:00Z"), Some(1.0)),
                (t("2026-03-29T05:00:00Z"), None),
                (t("2026-03-30T05:00:00Z"), None),
            ]
        );
    }

    #[test]
    fn samples_are_shaped_as_influxql_answers() {
        let t = |ms| DateTime::from_timestamp_millis(ms).expect("time");
        let base = Request::raw("m", &["a", "b"]).range(t(1_000), t(10_000));
        let lines = || {
            vec![
                // 500 and 10,000 lie outside [1,000, 10,000); 2,000 is written twice, the later value counts.
                line(
                    "m_a",
                    "x",
                    &[
                        (500, 9.0),
                        (2_000, 1.0),
                        (2_000, 2.0),
                        (4_500, 4.0),
                        (10_000, 9.0),
                    ],
                ),
                line("m_b", "y", &[(3_000, 3.0)]),
            ]
        };
        let raw = shape(&base, lines());
        let rows: Vec<(i64, Vec<Option<f64>>)> =
            raw[0].rows.iter().map(|r| (r.ms, r.values.clone())).collect();
        assert_eq!(
            rows,
            [
                (2_000, vec![Some(2.0), None]),
                (3_000, vec![None, Some(3.0)]),
                (4_500, vec![Some(4.0), None])
            ]
        );
        let newest = shape(&base.clone().newest(1), lines());
        assert_eq!(newest[0].rows.len(), 1);
        assert_eq!(newest[0].rows[0].ms, 4_500);
        let latest = shape(&base.clone().shape(Shape::Latest), lines());
        assert_eq!(
            latest[0].rows,
            [Row {
                ms: 4_500,
                values: vec![Some(4.0), Some(3.0)]
            }]
        );
        // Windows of 2 s from the epoch, dated at their start; by device.
        let by = base.clone().shape(Shape::Windows {
            agg: Agg::Mean,
            window_s: 2,
            by: Some("device".into()),
        });
        let groups = shape(&by, lines());
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].tag.as_deref(), Some("x"));
        assert_eq!(
            groups[0].rows,
            [
                Row {
                    ms: 2_000,
                    values: vec![Some(2.0), None]
                },
                Row {
                    ms: 4_000,
                    values: vec![Some(4.0), None]
                }
            ]
        );
        assert_eq!(
            groups[1].rows,
            [Row {
                ms: 2_000,
                values: vec![None, Some(3.0)]
            }]
        );
        let count = shape(&Request::raw("m", &["a"]).windows(Agg::Count, 10), lines());
        assert_eq!(
            count[0].rows,
            [
                Row {
                    ms: 0,
                    values: vec![Some(3.0)]
                },
                Row {
                    ms: 10_000,
                    values: vec![Some(1.0)]
                }
            ]
        );
        assert!(shape(&base.clone().range(t(20_000), t(30_000)), lines()).is_empty());
    }
}
