//! Token buckets keyed by a string, for two limits: requests per authenticated user, and failed
//! authentications per client address.
//!
//! Pure and clock-injected, so it is tested without waiting. A user who exceeds the rate gets 429 with a
//! `Retry-After` telling when the next request will be accepted; other users are unaffected. For failed
//! authentications only failures take a token ([`RateLimiter::check`]), and an address whose bucket is empty
//! is refused before its token is even looked at ([`RateLimiter::peek`]), so guessing stops paying off.
//! Memory is bounded: past [`MAX_KEYS`] buckets, the full ones (idle long enough to refill) are forgotten,
//! and if all are busy, all are; addresses are keyed per IPv6 /64 ([`address_key`]) so one host cannot
//! spread its guesses over its subnet.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are forgotten.
pub const MAX_KEYS: usize = 10_000;

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
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| refilled(*b, now, per_second) < burst);
            if buckets.len() >= MAX_KEYS {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *bucket = (refilled(*bucket, now, self.per_second).min(self.burst), now);
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            Ok(())
        } else {
            Err(self.wait(bucket.0))
        }
    }

    /// Whether `key` has a token at `now`, without taking it; else how long until it has one.
    pub fn peek(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(buckets) = self.buckets.lock() else {
            return Ok(());
        };
        match buckets.get(key) {
            Some(b) if refilled(*b, now, self.per_second) < 1.0 => {
                Err(self.wait(refilled(*b, now, self.per_second)))
            }
            _ => Ok(()),
        }
    }

    fn wait(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64((1.0 - tokens) / self.per_second)
    }
}

/// The tokens of a bucket at `now` before capping at the burst.
fn refilled((tokens, last): (f64, Instant), now: Instant, per_second: f64) -> f64 {
    tokens + now.saturating_duration_since(last).as_secs_f64() * per_second
}

/// The key of a client address for the failed-authentication limit: an IPv4 address (or IPv4-mapped IPv6)
/// as is, an IPv6 address by its /64 network.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
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
    fn peek_never_takes_a_token() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(0.1, 2);
        assert!((0..10).all(|_| rl.peek("a", t0).is_ok()), "peeking is free");
        assert!(rl.check("a", t0).is_ok() && rl.check("a", t0).is_ok());
        let wait = rl.peek("a", t0).expect_err("empty");
        assert!((wait.as_secs_f64() - 10.0).abs() < 1e-9, "{wait:?}");
        assert_eq!(rl.peek("a", t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(rl.peek("b", t0), Ok(()), "unknown keys are not limited");
    }

    #[test]
    fn idle_buckets_are_forgotten_past_the_key_limit() {
        let t0 = Instant::now();
        let rl = RateLimiter::new(1.0, 1);
        for i in 0..MAX_KEYS {
            assert!(rl.check(&i.to_string(), t0).is_ok());
        }
        assert!(rl.check("0", t0).is_err(), "still remembered");
        // One second later every bucket is full again and may go.
        let later = t0 + Duration::from_secs(1);
        assert!(rl.check("new", later).is_ok());
        let kept = rl.buckets.lock().map(|b| b.len()).unwrap_or(usize::MAX);
        assert_eq!(kept, 1);
    }

    #[test]
    fn ipv6_addresses_are_keyed_per_64() {
        let key = |s: &str| address_key(s.parse().expect("ip"));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn zero_rate_disables_limiting() {
        let rl = RateLimiter::new(0.0, 1);
        let t = Instant::now();
        assert!((0..1000).all(|_| rl.check("a", t).is_ok()));
    }
}
