//! Analytics' integration tests, one binary: alerts across a restart, the learned normal warmed from a real
//! influxd, and webhook delivery with retries.

mod restart;
mod warmup;
mod webhook;
