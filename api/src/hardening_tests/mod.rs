//! Router-level tests of the hardening (issue 17): extreme dates and counts, per-role ranges, generic 5xx
//! texts, timeouts, stream and failed-authentication limits, and the OpenAPI document. The app is driven
//! with `oneshot`, no socket; InfluxDB is a closed local port (requests that reach it answer 503) or, for
//! timeouts, a listener that accepts and never answers.

mod dates;
mod limits;
mod props;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_model::inventory::fixtures::town;

use crate::{AppState, Config, app_with};

/// The model's small town (tokens are the user names: `anna` resident of hh-1, `fm`, `parks`, `root`) with
/// InfluxDB at `influx_url`.
fn state_with(influx_url: String) -> AppState {
    let influx = zw_influx::Client::new(zw_influx::Config {
        url: influx_url,
        ..Default::default()
    })
    .expect("client");
    AppState::new(Arc::new(town()), influx, None, prometheus::Registry::new()).expect("state")
}

/// InfluxDB at a port nobody listens on: a request that reaches the query answers 503 at once.
pub(crate) fn state() -> AppState {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    state_with(format!("http://{closed}"))
}

/// An answer's status, headers and JSON body (`Null` if not JSON).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: serde_json::Value,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
}

/// A request with `token`, from `peer` if given (as the server loop would add it).
fn request(path: &str, token: &str, peer: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    if let Some(peer) = peer {
        let addr: SocketAddr = format!("{peer}:40000").parse().expect("addr");
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

async fn send(state: &AppState, cfg: &Config, req: Request<Body>) -> Response {
    app_with(state.clone(), cfg)
        .oneshot(req)
        .await
        .expect("infallible")
}

async fn answer(resp: Response) -> Answer {
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

async fn get(state: &AppState, path: &str, token: &str) -> Answer {
    answer(send(state, &state.config, request(path, token, None)).await).await
}

/// Percent-encodes a query value (dates carry `+` and `:`).
fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The value of a metric (with `label` among its label values, if given) in the state's registry, from the
/// text exposition; `None` if absent.
fn metric(state: &AppState, name: &str, label: Option<&str>) -> Option<f64> {
    use prometheus::Encoder as _;
    let mut buf = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&state.registry.gather(), &mut buf)
        .expect("encodes");
    let text = String::from_utf8(buf).expect("utf-8");
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .find(|l| label.is_none_or(|v| l.contains(&format!("=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
