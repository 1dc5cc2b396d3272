//! The access log: one JSON line per `/api/` request, who read which subject over which time range, kept
//! apart from the service log in the file `api.access_log`.
//!
//! A line names the user (the inventory's or the JWT's user name, never a token) and role, the subject (kind
//! and id from the path: `device`, `site`, `alert`, `tree`, or a list such as `devices`), the requested time
//! range and report (`from`, `to`, `until`, `period`, `count`, `compare`, `quantity`, `window`, as the query
//! gave them), when the request came, the method and status. Query keys other than these are left out, so
//! no unforeseen input ends up in the log; headers never do. A request without a valid token has `user` and
//! `role` null.
//!
//! The middleware [`record`] puts a [`Slot`] into the request; the [`crate::auth::Caller`] extractor fills
//! it with the user once the token is verified; after the handler the line is appended (one `write` per
//! line on a file opened for appending, so lines of concurrent requests never interleave). A failed write
//! is counted in `zw_api_access_log_errors_total` and logged, and never fails the request.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use zw_model::{Role, User};

use crate::AppState;

/// Query keys copied to the log: the time range and what was asked for, nothing else.
pub const LOGGED_KEYS: &[&str] = &[
    "from",
    "to",
    "until",
    "period",
    "count",
    "compare",
    "quantity",
    "window",
    "direction",
    "site",
    "device",
];

/// The open access log file.
#[derive(Debug)]
pub struct AccessLog {
    file: Mutex<File>,
}

impl AccessLog {
    /// Opens (creating it and its folder if needed) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Appends one entry as a line.
    pub fn write(&self, entry: &Entry<'_>) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)
    }
}

/// Who made a request, filled by the authentication extractor.
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<(String, Role)>>>);

impl Slot {
    /// Records the authenticated user.
    pub fn identify(&self, user: &User) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((user.name.to_string(), user.role));
    }

    fn take(&self) -> Option<(String, Role)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The subject of a request, from its path.
#[derive(Debug, PartialEq, Serialize)]
pub struct Subject<'a> {
    /// `device`, `site`, `alert`, `tree`, or the list read (`devices`, `sites`, `alerts`, `trees`, `stream`).
    pub kind: &'a str,
    /// The id from the path, if any.
    pub id: Option<&'a str>,
}

/// One line of the access log.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// When the request came (RFC 3339, UTC).
    pub ts: String,
    /// User name; null without a valid token.
    pub user: Option<String>,
    /// The user's role; null without a valid token.
    pub role: Option<Role>,
    /// HTTP method.
    pub method: &'a str,
    /// Request path.
    pub path: &'a str,
    /// What was read.
    pub subject: Subject<'a>,
    /// The query's time range and report parameters ([`LOGGED_KEYS`]).
    pub query: serde_json::Map<String, serde_json::Value>,
    /// HTTP status of the answer.
    pub status: u16,
}

/// The subject a path names: `/api/v1/devices/{id}/history` → device `id`.
pub fn subject(path: &str) -> Subject<'_> {
    let mut parts = path.trim_start_matches("/api/v1/").split('/');
    let list = parts.next().unwrap_or("");
    let id = parts.next().filter(|s| !s.is_empty());
    let kind = match (list, id) {
        ("devices", Some(_)) => "device",
        ("sites", Some(_)) => "site",
        ("alerts", Some(_)) => "alert",
        ("trees", Some("watering")) => {
            return Subject {
                kind: "trees",
                id: None,
            };
        }
        ("trees", Some(_)) => "tree",
        (other, _) => other,
    };
    Subject { kind, id }
}

/// The logged query parameters of `uri` (URL-decoded).
pub fn query_fields(uri: &Uri) -> serde_json::Map<String, serde_json::Value> {
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri).map_or_else(|_| Vec::new(), |q| q.0);
    pairs
        .into_iter()
        .filter(|(k, _)| LOGGED_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// Middleware: records every `/api/` request in the access log, if one is configured.
pub async fn record(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let Some(log) = state.access_log.clone() else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let ts: DateTime<Utc> = Utc::now();
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = next.run(req).await;
    let who = slot.take();
    let entry = Entry {
        ts: ts.to_rfc3339_opts(SecondsFormat::Millis, true),
        role: who.as_ref().map(|(_, r)| *r),
        user: who.map(|(u, _)| u),
        method: method.as_str(),
        path: uri.path(),
        subject: subject(uri.path()),
        query: query_fields(&uri),
        status: resp.status().as_u16(),
    };
    if let Err(e) = log.write(&entry) {
        state.metrics.access_log_errors.inc();
        tracing::error!(error = %e, "Cannot write the access log.");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_come_from_the_path() {
        let s = subject("/api/v1/devices/hh-12-plug/history");
        assert_eq!((s.kind, s.id), ("device", Some("hh-12-plug")));
        let s = subject("/api/v1/sites/hh-12/energy");
        assert_eq!((s.kind, s.id), ("site", Some("hh-12")));
        let s = subject("/api/v1/devices");
        assert_eq!((s.kind, s.id), ("devices", None));
        let s = subject("/api/v1/trees/watering");
        assert_eq!((s.kind, s.id), ("trees", None));
    }

    #[test]
    fn only_range_and_report_keys_are_kept() {
        let uri: Uri =
            "/api/v1/devices/d/history?from=2026-01-01T00%3A00%3A00Z&secret=x&quantity=active_power"
                .parse()
                .expect("test value");
        let q = query_fields(&uri);
        assert_eq!(q.len(), 2);
        assert_eq!(q["from"], "2026-01-01T00:00:00Z");
        assert!(!q.contains_key("secret"));
    }

    #[test]
    fn lines_are_appended_as_json() {
        let dir = tempfile::tempdir().expect("test value");
        let path = dir.path().join("sub/access.jsonl");
        let log = AccessLog::open(&path).expect("test value");
        for status in [200, 404] {
            let entry = Entry {
                ts: "2026-01-01T00:00:00.000Z".into(),
                user: Some("anna".into()),
                role: Some(Role::Resident),
                method: "GET",
                path: "/api/v1/sites/hh-12/live",
                subject: subject("/api/v1/sites/hh-12/live"),
                query: serde_json::Map::new(),
                status,
            };
            log.write(&entry).expect("test value");
        }
        let text = std::fs::read_to_string(&path).expect("test value");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("test value"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["user"], "anna");
        assert_eq!(lines[0]["role"], "resident");
        assert_eq!(lines[0]["subject"]["id"], "hh-12");
        assert_eq!(lines[1]["status"], 404);
    }
}
