//! The InfluxQL backend: each [`Request`] is one statement, a batch is one `;`-separated query in one HTTP
//! request ([`Client::query_all`]). Names are quoted identifiers; every tag value and time is a bound
//! parameter named after the statement's index (`$r3_t0`, `$r3_from`), so statements never share one.

use chrono::Timelike as _;

use crate::read::{Group, Request, Row, Shape};
use crate::{Client, QueryError, Series};

/// The statement of request number `i`, and its bound parameters.
pub fn statement(i: usize, r: &Request) -> (String, Vec<(String, String)>) {
    let fields = |wrap: Option<&str>| -> String {
        r.fields
            .iter()
            .map(|f| match wrap {
                Some(func) => format!("{func}({})", ident(f)),
                None => ident(f),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let what = match &r.shape {
        Shape::Raw { .. } => fields(None),
        Shape::Latest => fields(Some("last")),
        Shape::Windows { agg, .. } | Shape::Days { agg, .. } => fields(Some(agg.function())),
    };
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    for (k, (tag, value)) in r.tags.iter().enumerate() {
        let name = format!("r{i}_t{k}");
        conditions.push(format!("{} = ${name}", ident(tag)));
        params.push((name, value.clone()));
    }
    for (k, (tag, values)) in r.tags_in.iter().enumerate() {
        let any: Vec<String> = (0..values.len())
            .map(|j| format!("{} = $r{i}_i{k}_{j}", ident(tag)))
            .collect();
        conditions.push(format!("({})", any.join(" OR ")));
        params.extend(
            values
                .iter()
                .enumerate()
                .map(|(j, v)| (format!("r{i}_i{k}_{j}"), v.clone())),
        );
    }
    if let Some((from, to)) = r.range {
        conditions.push(format!("time >= $r{i}_from AND time < $r{i}_to"));
        params.push((format!("r{i}_from"), from.to_rfc3339()));
        params.push((format!("r{i}_to"), to.to_rfc3339()));
    }
    let from = match &r.retention_policy {
        Some(rp) => format!("{}.{}", ident(rp), ident(&r.measurement)),
        None => ident(&r.measurement),
    };
    let mut q = format!("SELECT {what} FROM {from}");
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    let by = r.group_tag().map(ident);
    match &r.shape {
        Shape::Raw { newest_first, limit } => {
            if let Some(by) = &by {
                q.push_str(&format!(" GROUP BY {by}"));
            }
            if *newest_first {
                q.push_str(" ORDER BY time DESC");
            }
            if let Some(n) = limit {
                q.push_str(&format!(" LIMIT {n}"));
            }
        }
        Shape::Latest => {
            if let Some(by) = &by {
                q.push_str(&format!(" GROUP BY {by}"));
            }
        }
        Shape::Windows { window_s, .. } => {
            q.push_str(&format!(" GROUP BY time({}s)", window_s.max(&1)));
            if let Some(by) = &by {
                q.push_str(&format!(", {by}"));
            }
            q.push_str(" fill(none)");
        }
        Shape::Days { tz, at, .. } => {
            q.push_str(&format!(
                " GROUP BY time(1d, {}m)",
                at.num_seconds_from_midnight() / 60
            ));
            if let Some(by) = &by {
                q.push_str(&format!(", {by}"));
            }
            // Zone names are `[A-Za-z0-9/_+-]`; quoted as a string literal all the same.
            q.push_str(&format!(" fill(null) tz('{}')", tz.name().replace('\'', "")));
        }
    }
    (q, params)
}

/// Runs `requests` in one `/query` request.
pub(crate) async fn read_all(client: &Client, requests: &[Request]) -> Result<Vec<Vec<Group>>, QueryError> {
    let mut statements = Vec::with_capacity(requests.len());
    let mut params = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let (q, p) = statement(i, r);
        statements.push(q);
        params.extend(p);
    }
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let results = client.query_all(&statements.join("; "), &params).await?;
    Ok(requests
        .iter()
        .zip(results.into_iter().chain(std::iter::repeat_with(Vec::new)))
        .map(|(r, series)| groups(r, series))
        .collect())
}

fn groups(r: &Request, series: Vec<Series>) -> Vec<Group> {
    let by = r.group_tag();
    series
        .into_iter()
        .map(|s| Group {
            tag: by.and_then(|b| s.tags.get(b).cloned()),
            rows: s
                .values
                .iter()
                .filter_map(|row| {
                    Some(Row {
                        ms: row.first()?.as_i64()?,
                        values: row[1..].iter().map(serde_json::Value::as_f64).collect(),
                    })
                })
                .collect(),
        })
        .collect()
}

/// A double-quoted identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::read::Agg;

    #[test]
    fn statements_bind_every_value_and_quote_every_name() {
        let t = |s| DateTime::from_timestamp(s, 0).expect("time");
        let r = Request::raw("readings", &["energy_import"])
            .tag("site", "s'1")
            .tag("device", "d")
            .range(t(0), t(60))
            .newest(3);
        let (q, p) = statement(2, &r);
        assert_eq!(
            q,
            "SELECT \"energy_import\" FROM \"readings\" WHERE \"site\" = $r2_t0 AND \"device\" = $r2_t1 AND \
             time >= $r2_from AND time < $r2_to ORDER BY time DESC LIMIT 3"
        );
        assert_eq!(p[0], ("r2_t0".to_string(), "s'1".to_string()));
        let mut w = Request::raw("readings", &["a", "b"])
            .range(t(0), t(60))
            .windows(Agg::Last, 900);
        if let Shape::Windows { by, .. } = &mut w.shape {
            *by = Some("device".into());
        }
        assert_eq!(
            statement(0, &w).0,
            "SELECT last(\"a\"),last(\"b\") FROM \"readings\" WHERE time >= $r0_from AND time < $r0_to \
             GROUP BY time(900s), \"device\" fill(none)"
        );
        let state = Request::raw("rollup_state", &["from_ms"]).shape(Shape::Latest);
        assert_eq!(
            statement(0, &state).0,
            "SELECT last(\"from_ms\") FROM \"rollup_state\""
        );
        let per_device = Request::raw("rollup_state", &["from_ms"])
            .tag_in("device", &["a", "b"])
            .by("device")
            .shape(Shape::Latest);
        let (q, p) = statement(1, &per_device);
        assert_eq!(
            q,
            "SELECT last(\"from_ms\") FROM \"rollup_state\" WHERE (\"device\" = $r1_i0_0 OR \"device\" = \
             $r1_i0_1) GROUP BY \"device\""
        );
        assert_eq!(p[1], ("r1_i0_1".to_string(), "b".to_string()));
        let days = Request::raw("q", &["first_ms"])
            .range(t(0), t(86_400))
            .by("device")
            .shape(Shape::Days {
                agg: Agg::First,
                tz: chrono_tz::Europe::Berlin,
                at: chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("time"),
            });
        assert_eq!(
            statement(0, &days).0,
            "SELECT first(\"first_ms\") FROM \"q\" WHERE time >= $r0_from AND time < $r0_to \
             GROUP BY time(1d, 420m), \"device\" fill(null) tz('Europe/Berlin')"
        );
    }
}
