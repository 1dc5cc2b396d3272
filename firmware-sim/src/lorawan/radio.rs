//! LoRaWAN radio facts and The Things Stack's JSON conventions, shared by every simulated LoRaWAN device.
//!
//! Pure helpers: EU868 channels, the LoRa time-on-air formula (Semtech AN1200.13), and the protobuf JSON
//! encodings TTS uses for timestamps (RFC 3339, UTC, 0/3/6/9 fraction digits), durations (`"0.061696s"`)
//! and correlation ids (ULIDs).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::curves::mix;

/// EU868 uplink channels of a standard 8-channel gateway, in Hz.
pub const EU868: [u64; 8] = [
    868_100_000,
    868_300_000,
    868_500_000,
    867_100_000,
    867_300_000,
    867_500_000,
    867_700_000,
    867_900_000,
];

/// LoRaWAN overhead around FRMPayload without FOpts: MHDR 1, DevAddr 4, FCtrl 1, FCnt 2, FPort 1, MIC 4.
pub const MAC_OVERHEAD: usize = 13;

/// LoRa time on air: explicit header, CRC on, coding rate 4/5, 8 preamble symbols, low-data-rate
/// optimisation from SF11 at 125 kHz.
pub fn airtime(phy_payload_len: usize, sf: u32, bandwidth_hz: u32) -> Duration {
    let t_sym_ns = (1u64 << sf) * 1_000_000_000 / u64::from(bandwidth_hz);
    let de = i64::from(sf >= 11 && bandwidth_hz == 125_000);
    let num = 8 * phy_payload_len as i64 - 4 * i64::from(sf) + 28 + 16;
    let den = 4 * (i64::from(sf) - 2 * de);
    let payload_symbols = 8 + ((num + den - 1).div_euclid(den)).max(0) * 5;
    // 8 programmed preamble symbols + 4.25 sync symbols = 12.25 = 49/4.
    Duration::from_nanos(t_sym_ns * 49 / 4 + t_sym_ns * payload_symbols as u64)
}

/// A protobuf JSON timestamp: RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fraction digits.
pub fn proto_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A protobuf JSON duration: seconds with 0, 3, 6 or 9 fraction digits and an `s` suffix.
pub fn proto_duration(d: Duration) -> String {
    let (s, n) = (d.as_secs(), d.subsec_nanos());
    match n {
        0 => format!("{s}s"),
        n if n % 1_000_000 == 0 => format!("{s}.{:03}s", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{s}.{:06}s", n / 1_000),
        n => format!("{s}.{n:09}s"),
    }
}

/// A ULID (Crockford base32 of 48-bit milliseconds and 80 bits of entropy), as in TTS correlation ids.
pub fn ulid(t: DateTime<Utc>, entropy: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = u128::from(t.timestamp_millis().max(0) as u64) & ((1 << 48) - 1);
    let v = (ms << 80) | (u128::from(entropy) << 16) | u128::from(mix(entropy, 1) as u16);
    (0..26)
        .map(|i| char::from(ALPHABET[((v >> (125 - 5 * i)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airtime_follows_the_semtech_formula() {
        // Table: (PHY payload bytes, SF) → time on air; 24 bytes at SF7 is the LSE01 uplink of the TTS example.
        let cases = [
            (24, 7, "0.061696s"),
            (13, 7, "0.046336s"),
            (24, 12, "1.482752s"),
            (24, 9, "0.205824s"),
        ];
        for (len, sf, want) in cases {
            assert_eq!(
                proto_duration(airtime(len, sf, 125_000)),
                want,
                "{len} bytes SF{sf}"
            );
        }
    }

    #[test]
    fn protobuf_json_encodings() {
        let cases = [
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(1500), "1.500s"),
            (Duration::from_micros(61_696), "0.061696s"),
            (Duration::from_nanos(1), "0.000000001s"),
        ];
        for (d, want) in cases {
            assert_eq!(proto_duration(d), want);
        }
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.987+02:00")
            .expect("valid")
            .to_utc();
        assert_eq!(proto_time(t), "2024-05-01T08:00:00.987Z");
        let id = ulid(t, 7);
        assert_eq!(id.len(), 26);
        assert!(id.starts_with("01HWS"), "48-bit millisecond prefix: {id}");
    }
}
