//! No decoder panics: arbitrary bytes, every truncation and every single-bit flip of every fixture, plus
//! arbitrary bytes behind a valid header (so the record and SML parsers see more than start-byte rejections).
//! Also the mode 7 round trip (no fixture has a mode 7 telegram).

use proptest::prelude::*;

use crate::fixtures;
use zw_meters::wmbus::{self, Key, crypto};
use zw_meters::{mbus, sml};

fn all_frames() -> Vec<(Vec<u8>, Option<Key>)> {
    let m = fixtures("mbus_telegrams.json");
    let s = fixtures("sml_captures.json");
    let mut out: Vec<_> = m["telegrams"]
        .as_array()
        .expect("telegrams")
        .iter()
        .map(|t| {
            let key = t["key"].as_str().and_then(Key::from_hex);
            (hex::decode(t["hex"].as_str().expect("hex")).expect("hex"), key)
        })
        .collect();
    out.extend(
        s["captures"]
            .as_array()
            .expect("captures")
            .iter()
            .map(|c| (hex::decode(c["data"].as_str().expect("data")).expect("hex"), None)),
    );
    out
}

/// Every decoder on the same bytes; results are ignored, only panics count. Values that decode are mapped too.
fn all_decoders(bytes: &[u8], key: Option<&Key>) {
    if let Ok(t) = mbus::decode(bytes) {
        let _ = t.values();
    }
    let _ = mbus::frame::frame_length(bytes);
    if let Ok(t) = wmbus::decode(bytes, &()) {
        let _ = t.values();
    }
    let _ = wmbus::decode_predecrypted(bytes);
    if let Some(k) = key {
        let _ = wmbus::decode(bytes, k);
    }
    if let Ok(r) = sml::decode_file(bytes) {
        let _ = (r.values(), r.meter_id(), r.energy_resolution_wh());
    }
}

#[test]
fn truncations_and_bit_flips_of_every_fixture_never_panic() {
    for (frame, key) in all_frames() {
        for n in 0..frame.len() {
            all_decoders(&frame[..n], key.as_ref());
        }
        for bit in 0..frame.len() * 8 {
            let mut f = frame.clone();
            f[bit / 8] ^= 1 << (bit % 8);
            all_decoders(&f, key.as_ref());
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        all_decoders(&bytes, Some(&Key([1; 16])));
    }

    #[test]
    fn arbitrary_records_behind_valid_headers_never_panic(records in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Wired RSP_UD, CI 72, with a correct checksum around arbitrary records.
        let mut body = vec![0x08, 0x01, 0x72, 0x28, 0x04, 0x17, 0x23, 0x01, 0x06, 0x42, 0x04, 0x55, 0, 0, 0];
        body.extend_from_slice(&records[..records.len().min(240)]);
        let l = body.len() as u8;
        let cs = body.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        let mut frame = vec![0x68, l, l, 0x68];
        frame.extend_from_slice(&body);
        frame.extend_from_slice(&[cs, 0x16]);
        all_decoders(&frame, None);
        // Wireless, stripped, CI 7A unencrypted.
        let mut w = vec![0, 0x44, 0xAE, 0x4C, 0x44, 0x55, 0x22, 0x33, 0x68, 0x07, 0x7A, 0x55, 0, 0, 0];
        w.extend_from_slice(&records[..records.len().min(240)]);
        w[0] = (w.len() - 1) as u8;
        all_decoders(&w, None);
        // An SML file with an arbitrary body between valid escapes.
        let mut s = vec![0x1B, 0x1B, 0x1B, 0x1B, 1, 1, 1, 1];
        s.extend(records.iter().filter(|b| **b != 0x1B));
        all_decoders(&s, None);
    }
}

#[test]
fn mode_7_round_trip_with_derived_key_and_message_counter() {
    use aes::Aes128;
    use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
    let master = Key::from_hex("000102030405060708090A0B0C0D0E0F").expect("key");
    let (counter, id) = (0x0000_0102u32, [0x78, 0x56, 0x34, 0x12]);
    let mut plain = [0x2Fu8; 16];
    plain[2..8].copy_from_slice(&[0x0C, 0x13, 0x78, 0x56, 0x34, 0x12]); // 12345.678 m³
    let kenc = crypto::mode7_key(&master, 0x00, counter, id);
    let mut enc = plain;
    let (blocks, _) = cbc::cipher::Block::<Aes128>::slice_as_chunks_mut(&mut enc);
    cbc::Encryptor::<Aes128>::new((&kenc).into(), (&[0u8; 16]).into()).encrypt_blocks(blocks);
    // L C M(2) A(6), AFL (CI 90, L 6, FCL with MCR present, MCR), TPL CI 7A ACC STS CFG (mode 7, 1 block).
    let mut t = vec![
        0, 0x44, 0x93, 0x15, 0x78, 0x56, 0x34, 0x12, 0x33, 0x07, 0x90, 0x06, 0x00, 0x08,
    ];
    t.extend_from_slice(&counter.to_le_bytes());
    t.extend_from_slice(&[0x7A, 0x01, 0x00, 0x10, 0x07]);
    t.extend_from_slice(&enc);
    t[0] = (t.len() - 1) as u8;
    let tg = wmbus::decode(&t, &master).expect("mode 7 decrypts");
    assert_eq!(tg.tpl.security_mode(), 7);
    assert_eq!(
        tg.records.records[0].decimal().map(|d| d.to_f64()),
        Some(12345.678)
    );
    assert!(matches!(
        wmbus::decode(&t, &Key([9; 16])),
        Err(wmbus::Error::WrongKey(_))
    ));
    // Without the AFL there is no counter to derive the key from.
    let mut no_afl = t[..10].to_vec();
    no_afl.extend_from_slice(&t[18..]);
    no_afl[0] = (no_afl.len() - 1) as u8;
    assert!(matches!(
        wmbus::decode(&no_afl, &master),
        Err(wmbus::Error::NoCounter)
    ));
}
