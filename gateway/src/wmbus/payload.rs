//! What a receiver publishes: the telegram as hex text (`2C4493…`, any case, whitespace ignored), or a JSON
//! object with the hex under `telegram` (also `frame` or `hex`, as receiver firmwares name it). Other JSON
//! keys (rssi, receiver time) are ignored.

use thiserror::Error;

/// The longest telegram: L is one byte, and format A adds a CRC per 16-byte block.
pub const MAX_TELEGRAM_BYTES: usize = 256 + 2 * 17;

/// Why a receiver's message holds no telegram.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// Neither hex nor a JSON object with a `telegram` string.
    #[error("not a hex telegram nor JSON with a \"telegram\" hex string")]
    NoTelegram,
    /// A character that is not a hex digit, or an odd number of digits.
    #[error("telegram is not hex ({0})")]
    NotHex(String),
    /// More bytes than any wireless M-Bus telegram has.
    #[error("telegram of {0} bytes is longer than any wireless M-Bus telegram")]
    TooLong(usize),
}

impl PayloadError {
    /// The metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoTelegram => "no_telegram",
            Self::NotHex(_) => "not_hex",
            Self::TooLong(_) => "too_long",
        }
    }
}

/// The telegram's bytes from a receiver's message.
pub fn telegram(payload: &[u8]) -> Result<Vec<u8>, PayloadError> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| PayloadError::NoTelegram)?
        .trim();
    let hex_text = if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|_| PayloadError::NoTelegram)?;
        let s = ["telegram", "frame", "hex"]
            .iter()
            .find_map(|k| v.get(k).and_then(|t| t.as_str()))
            .ok_or(PayloadError::NoTelegram)?;
        s.to_owned()
    } else {
        text.to_owned()
    };
    let compact: String = hex_text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(PayloadError::NoTelegram);
    }
    if compact.len() / 2 > MAX_TELEGRAM_BYTES {
        return Err(PayloadError::TooLong(compact.len() / 2));
    }
    hex::decode(&compact).map_err(|e| PayloadError::NotHex(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_json_payloads_give_the_same_bytes() {
        let want = vec![0x2C, 0x44, 0xAB];
        assert_eq!(telegram(b"2C44AB").expect("test data"), want);
        assert_eq!(telegram(b" 2c 44 ab\n").expect("test data"), want);
        assert_eq!(
            telegram(br#"{"telegram":"2C44AB","rssi":-70}"#).expect("test data"),
            want
        );
        assert_eq!(telegram(br#"{"frame":"2c44ab"}"#).expect("test data"), want);
    }

    #[test]
    fn bad_payloads_are_told_apart() {
        assert_eq!(telegram(b""), Err(PayloadError::NoTelegram));
        assert_eq!(telegram(br#"{"rssi":-70}"#), Err(PayloadError::NoTelegram));
        assert_eq!(telegram(br#"{"telegram":12}"#), Err(PayloadError::NoTelegram));
        assert_eq!(telegram(&[0xFF, 0xFE]), Err(PayloadError::NoTelegram));
        assert!(matches!(telegram(b"2C4"), Err(PayloadError::NotHex(_))));
        assert!(matches!(telegram(b"zz"), Err(PayloadError::NotHex(_))));
        let long = "00".repeat(MAX_TELEGRAM_BYTES + 1);
        assert!(matches!(telegram(long.as_bytes()), Err(PayloadError::TooLong(_))));
    }
}
