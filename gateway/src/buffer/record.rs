//! What the outage buffer holds: bus messages ([`Message`]: a topic and a payload of one reading or a
//! batch), grouped into chunks that are stored, drained and dropped whole, deflate-compressed (readings are
//! repetitive JSON; a chunk of meter readings shrinks to about a sixth).
//!
//! Chunk layout (before compression), all integers little-endian:
//! `u32 messages`, then per message `u16 topic length, topic, u32 readings, u8 sources, sources × (u8 source
//! index, u32 count), u32 payload length, payload`. A chunk that does not decode is reported, never guessed.

use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// The `source` labels of `zw_gateway_readings_published_total`, by their index in a chunk.
pub const SOURCES: [&str; 6] = ["modbus", "tasmota", "shelly", "ttn", "json", "other"];

/// How many readings of each source a message carries that are not yet counted as published (a message
/// handed back by the bus client was counted when it was first handed over: its counts are empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts([u32; SOURCES.len()]);

impl SourceCounts {
    /// One reading of `source`.
    pub fn one(source: &str) -> Self {
        let mut s = Self::default();
        s.add(source);
        s
    }

    /// Counts one more reading of `source` (an unknown label counts as `other`).
    pub fn add(&mut self, source: &str) {
        let i = SOURCES
            .iter()
            .position(|s| *s == source)
            .unwrap_or(SOURCES.len() - 1);
        self.0[i] += 1;
    }

    /// The non-zero counts with their labels.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        SOURCES
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (*s, n))
    }
}

/// One bus message of readings (QoS 1, not retained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `zw/v1/readings/{site}/{device}` or `zw/v1/batches/{instance}`.
    pub topic: String,
    /// A reading's or a batch's JSON.
    pub payload: Vec<u8>,
    /// Readings in the payload (for the drop count).
    pub readings: u32,
    /// Readings to count as published, by source, once the message is handed to the bus client.
    pub sources: SourceCounts,
}

/// A chunk that does not decode (a damaged or foreign buffer file).
#[derive(Debug, thiserror::Error)]
#[error("buffer chunk does not decode: {0}")]
pub struct Corrupt(pub String);

/// Encodes and compresses `messages` as one chunk.
pub fn encode(messages: &[Message]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(
        messages
            .iter()
            .map(|m| m.payload.len() + m.topic.len() + 16)
            .sum(),
    );
    raw.extend_from_slice(&u32::try_from(messages.len()).unwrap_or(u32::MAX).to_le_bytes());
    for m in messages {
        // Topics are at most 65,535 bytes (MQTT), payloads at most bus.max_message_bytes.
        raw.extend_from_slice(&u16::try_from(m.topic.len()).unwrap_or(u16::MAX).to_le_bytes());
        raw.extend_from_slice(m.topic.as_bytes());
        raw.extend_from_slice(&m.readings.to_le_bytes());
        let sources: Vec<_> = (0..SOURCES.len()).filter(|i| m.sources.0[*i] > 0).collect();
        raw.push(sources.len() as u8);
        for i in sources {
            raw.push(i as u8);
            raw.extend_from_slice(&m.sources.0[i].to_le_bytes());
        }
        raw.extend_from_slice(&u32::try_from(m.payload.len()).unwrap_or(u32::MAX).to_le_bytes());
        raw.extend_from_slice(&m.payload);
    }
    let mut z = DeflateEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&raw);
    z.finish().unwrap_or_default()
}

/// Decompresses and decodes a chunk.
pub fn decode(chunk: &[u8]) -> Result<Vec<Message>, Corrupt> {
    let mut raw = Vec::with_capacity(chunk.len() * 6);
    DeflateDecoder::new(chunk)
        .read_to_end(&mut raw)
        .map_err(|e| Corrupt(e.to_string()))?;
    let mut r = Reader(&raw);
    let n = r.u32()?;
    let mut out = Vec::with_capacity(n.min(65_536) as usize);
    for _ in 0..n {
        let len = usize::from(r.u16()?);
        let topic = String::from_utf8(r.take(len)?.to_vec()).map_err(|e| Corrupt(e.to_string()))?;
        let readings = r.u32()?;
        let mut sources = SourceCounts::default();
        for _ in 0..r.take(1)?[0] {
            let i = usize::from(r.take(1)?[0]);
            let count = r.u32()?;
            *sources
                .0
                .get_mut(i)
                .ok_or_else(|| Corrupt(format!("source index {i}")))? = count;
        }
        let len = r.u32()? as usize;
        let payload = r.take(len)?.to_vec();
        out.push(Message {
            topic,
            payload,
            readings,
            sources,
        });
    }
    if !r.0.is_empty() {
        return Err(Corrupt(format!("{} trailing bytes", r.0.len())));
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        if self.0.len() < n {
            return Err(Corrupt("truncated".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, Corrupt> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Corrupt> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn message(i: u32) -> Message {
        Message {
            topic: format!("zw/v1/readings/site/dev-{}", i % 7),
            payload: format!(
                r#"{{"v":1,"ts":"2026-12-06T20:00:{:02}Z","values":{{"active_power":{i}}}}}"#,
                i % 60
            )
            .into_bytes(),
            readings: 1,
            sources: SourceCounts::one(if i.is_multiple_of(2) { "modbus" } else { "tasmota" }),
        }
    }

    #[test]
    fn chunks_round_trip_and_damage_is_reported() {
        let mut msgs: Vec<_> = (0..100).map(message).collect();
        msgs[3].sources = SourceCounts::default();
        msgs[4].readings = 250;
        msgs[5].sources.add("no-such-adapter");
        let chunk = encode(&msgs);
        assert_eq!(decode(&chunk).expect("decodes"), msgs);
        assert_eq!(
            msgs[5].sources.iter().collect::<Vec<_>>(),
            [("tasmota", 1), ("other", 1)]
        );
        assert!(
            chunk.len() * 3 < msgs.iter().map(|m| m.payload.len()).sum(),
            "compressed"
        );
        assert!(decode(&chunk[..chunk.len() / 2]).is_err());
        assert!(decode(b"not deflate at all").is_err());
        assert!(decode(&encode(&[])).expect("empty").is_empty());
    }
}
