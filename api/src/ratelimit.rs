//! Per-user request rate limiting: a token bucket per authenticated user.
//!
//! Pure and clock-injected, so it is tested without waiting. A user who exceeds the rate gets 429 with a
//! `Retry-After` telling when the next request will be accepted; other users are unaffected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by user name.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` sustained requests with bursts of up to `burst`; `per_second <= 0` disables limiting.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key` at `now`, or says how long until one is available.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_sustained_rate_per_key() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(10.0, 3);
        for _ in 0..3 {
            assert_eq!(rl.check("a", t0), Ok(()));
        }
        let wait = rl.check("a", t0).expect_err("burst used up");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert_eq!(rl.check("b", t0), Ok(()), "other users are unaffected");
        assert_eq!(rl.check("a", t0 + Duration::from_millis(100)), Ok(()));
        assert!(rl.check("a", t0 + Duration::from_millis(100)).is_err());
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..5).filter(|_| rl.check("a", later).is_ok()).count(), 3);
    }

    #[test]
    fn zero_rate_disables_limiting() {
        let rl = RateLimiter::new(0.0, 1);
        let t = Instant::now();
        assert!((0..1000).all(|_| rl.check("a", t).is_ok()));
    }
}
