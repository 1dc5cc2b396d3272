//! Reconnect back-off with jitter.

use std::time::Duration;

/// Exponential back-off: `min · 2^attempt`, capped at `max`, scaled by a jitter factor in 0.75..1.25
/// (`unit` is a uniform sample in 0..1).
pub(crate) fn backoff_delay(min: Duration, max: Duration, attempt: u32, unit: f64) -> Duration {
    let base = min
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(max);
    base.mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(backoff_delay(min, max, 0, 0.5), Duration::from_millis(100));
        assert_eq!(backoff_delay(min, max, 3, 0.5), Duration::from_millis(800));
        assert_eq!(backoff_delay(min, max, 30, 0.5), max);
        assert_eq!(backoff_delay(min, max, 0, 0.0), Duration::from_millis(75));
        assert_eq!(backoff_delay(min, max, 0, 1.0), Duration::from_millis(125));
    }
}
