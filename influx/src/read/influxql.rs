//! The InfluxQL backend: each [`Request`] is one statement, a batch is one `;`-separated query in one HTTP
//! request ([`Client::query_all`]). Names are quoted identifiers; every tag value and time is a bound
//! parameter named after the statement's index (`$r3_t0`, `$r3_from`), so statements never share one.

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
        Shape::Windows { agg, .. } => fields(Some(agg.function())),
    };
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    for (k, (tag, value)) in r.tags.iter().enumerate() {
        let name = format!("r{i}_t{k}");
        conditions.push(format!("{} = ${name}", ident(tag)));
        params.push((name, value.clone()));
    }
    if let Some((from, to)) = r.range {
        conditions.push(format!("time >= $r{i}_from AND time < $r{i}_to"));
        params.push((format!("r{i}_from"), from.to_rfc3339()));
        params.push((format!("r{i}_to"), to.to_rfc3339()));
    }
    let mut q = format!("SELECT {what} FROM {}", ident(&r.measurement));
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    match &r.shape {
        Shape::Raw { newest_first, limit } => {
            if *newest_first {
                q.push_str(" ORDER BY time DESC");
            }
            if let Some(n) = limit {
                q.push_str(&format!(" LIMIT {n}"));
            }
        }
        Shape::Latest => {}
        Shape::Windows { window_s, by, .. } => {
            q.push_str(&format!(" GROUP BY time({}s)", window_s.max(&1)));
            if let Some(by) = by {
                q.push_str(&format!(", {}", ident(by)));
            }
            q.push_str(" fill(none)");
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
    let by = match &r.shape {
        Shape::Windows { by, .. } => by.as_deref(),
        _ => None,
    };
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
    }
}
