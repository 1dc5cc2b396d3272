//! SML: transport, message reader, OBIS mapping and the DZG correction never panic, whole or byte by byte. The
//! input is also framed as a meter frames its messages (aligned escapes, padding, CRC), so the message reader
//! sees arbitrary bytes behind a valid transport instead of the fuzzer having to forge the file CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zw_meters::sml;

const X25: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

fn frame(messages: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1B, 0x1B, 0x1B, 0x1B, 1, 1, 1, 1];
    let pad = (4 - messages.len() % 4) % 4;
    for chunk in messages.chunks(4) {
        let mut c = [0u8; 4];
        c[..chunk.len()].copy_from_slice(chunk);
        out.extend_from_slice(&c);
        if c == [0x1B; 4] {
            out.extend_from_slice(&c);
        }
    }
    out.extend_from_slice(&[0x1B, 0x1B, 0x1B, 0x1B, 0x1A, pad as u8]);
    let crc = X25.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(data: &[u8]) {
    if let Ok(r) = sml::decode_file(data) {
        let _ = (r.values(), r.meter_id(), r.energy_resolution_wh());
    }
}

fuzz_target!(|data: &[u8]| {
    decode(data);
    decode(&frame(data));
    let mut stream = sml::SmlStream::new();
    for &b in data {
        let _ = stream.push(b);
    }
});
