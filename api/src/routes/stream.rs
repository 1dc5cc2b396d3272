//! Server-sent events: every new reading of a device in the caller's scope, as it arrives on the bus.
//!
//! Each event is `event: reading` with the canonical reading JSON as data. Scope is checked per reading: the
//! device must be in the caller's scope at the site the reading names, and the reading no older than the
//! start of the caller's scope (a resident's move-in).
//! A client too slow to keep up skips ahead and gets an `event: lagged` with the number of readings it
//! missed, rather than stalling the bus feed for everyone. A user may have `api.max_streams_per_user` streams
//! open; one more answers 429 with `Retry-After`. Streams have no request timeout: they last until the
//! client leaves, which frees the slot at once ([`crate::streams`]).

use std::sync::Arc;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::streams::StreamSlot;

/// Live readings in the caller's scope (`text/event-stream`).
#[utoipa::path(get, path = "/api/v1/stream", tag = "devices", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "`reading` events"),
        (status = 401, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem, description = "Too many requests, or the user has \
            `api.max_streams_per_user` streams open (default 4)")))]
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = state
        .streams
        .acquire(user.name.as_str())
        .ok_or_else(|| ApiError::TooManyStreams(state.streams.max_per_user()))?;
    let mut rx = state.live.subscribe();
    let inventory = state.inventory.clone();
    let events = async_stream(slot, move |tx| async move {
        loop {
            // A client that left ends the task at once, even while no reading in its scope arrives.
            let received = tokio::select! {
                () = tx.closed() => break,
                r = rx.recv() => r,
            };
            let event = match received {
                Ok(r) => {
                    let visible = inventory.device(r.device.as_str()).is_some_and(|(s, _)| {
                        s.id == r.site && user.sees(s) && user.since.is_none_or(|since| r.ts >= since)
                    });
                    if !visible {
                        continue;
                    }
                    Event::default()
                        .event("reading")
                        .data(String::from_utf8_lossy(&r.to_json()))
                }
                Err(RecvError::Lagged(n)) => Event::default().event("lagged").data(n.to_string()),
                Err(RecvError::Closed) => break,
            };
            if tx.send(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task through a small bounded channel; the task ends when the client disconnects. The
/// stream holds `slot`, so dropping the response body frees it.
fn async_stream<F, Fut>(slot: StreamSlot, f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures_util::stream::unfold((rx, slot), |(mut rx, slot)| async move {
        rx.recv().await.map(|item| (item, (rx, slot)))
    })
}
