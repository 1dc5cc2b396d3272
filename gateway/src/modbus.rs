//! Modbus polling: one task and one connection per endpoint (TCP gateway, serial device server or serial
//! bus), its devices polled on fixed grids by a [`schedule::Scheduler`].
//!
//! Guarantees:
//! * Requests on one connection are serialised (one task owns it); different endpoints run in parallel.
//! * Every request has a timeout. After a transport or protocol error the connection is dropped and
//!   re-opened; failed connects back off exponentially with jitter (`reconnect_max`). After a timeout on an
//!   RTU stream (serial, or RTU over TCP) too: without transaction ids a late answer would be taken for the
//!   next request's. On Modbus TCP a timeout keeps the connection (a unit id that never answers behind a
//!   gateway must not cost the other units a reconnect; a late answer is recognised by its transaction id and
//!   then reconnects), unless the connection answered nothing since the previous timeout (a dead endpoint or
//!   half-open connection): then it reconnects too.
//! * Each device polls on its own fixed grid (no drift); late starts are measured
//!   (`zw_gateway_poll_lateness_seconds`, `zw_gateway_polls_late_total`) and missed slots counted.
//! * A device that times out is backed off on its own and only probed within a bounded share of the
//!   connection's time, preferably in gaps of the others' schedule (see [`schedule`]).
//! * Modbus exceptions are told apart from timeouts and transport errors in logs, metrics and health; the
//!   values of a failed request are missing from the reading, never 0.
//! * Each device's health is published retained on `zw/v1/status/device/{device}`.
//!
//! | module | what |
//! |---|---|
//! | [`endpoint_plan`] (`endpoints.rs`) | inventory → endpoints and their devices (validation, gateway, backfill); [`diff_plans`]: what to stop/start on an inventory change |
//! | `poller.rs` | one endpoint's task: connection, grid, probes, publishing |
//! | `poll.rs` | one poll of one device: requests, decoding, what happened |
//! | [`schedule`] | fixed grids, per-device back-off, probes within a bounded share |
//! | [`PollHealth`] (`poll_health.rs`) | the polled device's health state machine |
//! | [`Supervisor`] (`supervisor.rs`) | the running endpoint tasks; follows plan changes, restarting only changed endpoints |
//! | `status.rs`, `trace.rs` | the retained status publish; where the task's time goes |
//! | [`transport`] | opening TCP, RTU-over-TCP and serial connections |
//!
//! Settings are [`crate::config::modbus`] (`[gateway.modbus]`), metrics [`crate::metrics::modbus`].

mod device;
mod endpoints;
mod poll;
mod poll_health;
mod poller;
pub mod schedule;
mod status;
mod supervisor;
mod trace;
pub mod transport;

pub use device::PolledDevice;
pub use endpoints::{EndpointPlan, Endpoints, PlanDiff, PlanProblem, diff_plans, endpoint_plan};
pub use poll_health::{Delivery, PollHealth};
pub use poller::poll_endpoint;
pub use supervisor::{Applied, Supervisor};
