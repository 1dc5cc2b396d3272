//! Validation of device sources, and the topic-pattern matching generic JSON devices use.
//!
//! Every source claims the topics it reads; two devices claiming the same one is an error. Claims are the
//! exact topic, `tasmota:<topic>`, `shelly:<prefix>:<channel>` (several channels of one Shelly share its
//! prefix), `wmbus:<manufacturer><id>` (a wireless M-Bus meter's secondary address), `mbus:<endpoint>#<address>`
//! (a wired M-Bus meter on its bus), `sml:<endpoint>` (an SML stream has one meter), and `<pattern>|<key>` for a
//! generic JSON device on a topic pattern (several devices share a pattern, each with its own key).
//!
//! [`StreamEndpoint`] is the endpoint syntax of the byte-stream sources (wired M-Bus, SML).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Device, DeviceSource, ModbusEndpoint, SerialSettings, SmlField, TTN_MODELS, mapping};

/// Where a byte-stream meter (wired M-Bus, SML) is reached.
///
/// | written | meaning |
/// |---|---|
/// | `host:port`, `tcp://host:port` | a TCP socket carrying the line's bytes unchanged (M-Bus/Ethernet gateway, ser2net) |
/// | `serial:///dev/ttyUSB0?baud=2400&parity=E` | a local serial port (options as for Modbus `rtu://`: baud, parity, data_bits, stop_bits) |
///
/// A serial port's baud rate and parity default per protocol: M-Bus 2400 Bd 8E1, SML 9600 Bd 8N1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamEndpoint {
    /// TCP to `host:port`.
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A local serial port.
    Serial(SerialSettings),
}

impl StreamEndpoint {
    /// Parses `s`; a serial port without `baud`/`parity` gets `default_baud` and `default_parity`
    /// (`"E"` or `"N"`).
    pub fn parse(s: &str, default_baud: u32, default_parity: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("serial://") {
            let mut spec = format!("rtu://{rest}");
            let query = rest.split_once('?').map_or("", |(_, q)| q);
            let has = |k: &str| query.split('&').any(|p| p.starts_with(k));
            let mut sep = if rest.contains('?') { '&' } else { '?' };
            if !has("baud=") {
                spec.push_str(&format!("{sep}baud={default_baud}"));
                sep = '&';
            }
            if !has("parity=") {
                spec.push_str(&format!("{sep}parity={default_parity}"));
            }
            return match ModbusEndpoint::parse(&spec)? {
                ModbusEndpoint::Rtu(settings) => Ok(Self::Serial(settings)),
                _ => Err(format!("{s:?} is not a serial port")),
            };
        }
        match ModbusEndpoint::parse(s) {
            Ok(ModbusEndpoint::Tcp { host, port }) => Ok(Self::Tcp { host, port }),
            Ok(_) | Err(_) if s.contains("://") && !s.starts_with("tcp://") => Err(format!(
                "unknown scheme in {s:?} (use host:port, tcp://host:port or serial:///dev/…)"
            )),
            Ok(_) => Err(format!("{s:?} is not a TCP or serial endpoint")),
            Err(e) => Err(e),
        }
    }

    /// The canonical form naming one bus (serial: the path alone).
    pub fn key(&self) -> String {
        match self {
            Self::Tcp { host, port } if host.contains(':') => format!("tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => format!("tcp://{host}:{port}"),
            Self::Serial(s) => format!("serial://{}", s.path),
        }
    }
}

impl std::fmt::Display for StreamEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { .. } => f.write_str(&self.key()),
            Self::Serial(s) => write!(f, "serial://{}?baud={}", s.path, s.baud),
        }
    }
}

/// The key a generic JSON device on a topic pattern (a topic with `+` levels) answers to: its `topic_key`,
/// or else its id. `None` for an exact topic. The gateway's router and the validation share this rule.
pub fn pattern_key<'a>(topic: &str, topic_key: Option<&'a str>, id: &'a str) -> Option<&'a str> {
    topic
        .split('/')
        .any(|l| l == "+")
        .then(|| topic_key.unwrap_or(id))
}

/// The key a topic matches `pattern` with: the topic's levels at the pattern's `+` levels, joined by `/`
/// (borrowed when the pattern has one `+`). `None` if the topic does not match, or the pattern has no `+`.
///
/// ```
/// use zw_model::inventory::topic_key;
/// assert_eq!(topic_key("sensors/+/state", "sensors/kitchen/state").as_deref(), Some("kitchen"));
/// assert_eq!(topic_key("a/+/b/+", "a/x/b/y").as_deref(), Some("x/y"));
/// assert_eq!(topic_key("sensors/+/state", "sensors/kitchen/other"), None);
/// ```
pub fn topic_key<'t>(pattern: &str, topic: &'t str) -> Option<Cow<'t, str>> {
    let mut key: Option<Cow<'t, str>> = None;
    let mut levels = topic.split('/');
    for p in pattern.split('/') {
        let level = levels.next()?;
        if p == "+" {
            key = Some(match key {
                None => Cow::Borrowed(level),
                Some(k) => Cow::Owned(format!("{k}/{level}")),
            });
        } else if p != level {
            return None;
        }
    }
    if levels.next().is_some() {
        return None;
    }
    key
}

/// Reports every problem of one device's source, prefixed with `path`; records its topic claims.
pub(super) fn validate(
    dev: &Device,
    path: &str,
    topics: &mut HashMap<String, String>,
    errors: &mut Vec<String>,
) {
    let mut claim = |topic: String, errors: &mut Vec<String>| {
        if let Some(other) = topics.insert(topic.clone(), path.to_string()) {
            errors.push(format!("{path}: topic {topic:?} is already read by {other}"));
        }
    };
    match &dev.source {
        DeviceSource::Modbus {
            endpoint,
            unit_id,
            interval,
            ..
        } => {
            if let Err(e) = ModbusEndpoint::parse(endpoint) {
                errors.push(format!("{path}.endpoint: {e}"));
            }
            if !(1..=247).contains(unit_id) {
                errors.push(format!("{path}.unit_id: must be 1..=247, got {unit_id}"));
            }
            if interval.as_millis() < 100 {
                errors.push(format!("{path}.interval: must be at least 100ms"));
            }
        }
        DeviceSource::Tasmota {
            topic,
            sml_section,
            sml,
        } => {
            validate_sml(sml_section.as_deref(), sml, path, errors);
            if topic.is_empty() || topic.contains(['+', '#', '/']) {
                errors.push(format!("{path}.topic: {topic:?} is not a Tasmota %topic%"));
            }
            claim(format!("tasmota:{topic}"), errors);
        }
        DeviceSource::Ttn { topic, model } => {
            if !topic.starts_with("v3/") || !topic.ends_with("/up") || topic.contains(['+', '#']) {
                errors.push(format!(
                    "{path}.topic: {topic:?} is not a v3/{{app}}/devices/{{id}}/up topic"
                ));
            }
            if !TTN_MODELS.contains(&model.as_str()) {
                errors.push(format!(
                    "{path}.model: unknown model {model:?} (known: {})",
                    TTN_MODELS.join(", ")
                ));
            }
            claim(topic.clone(), errors);
        }
        DeviceSource::Shelly { prefix, channel } => {
            if prefix.is_empty()
                || prefix.len() > 300
                || prefix.starts_with('$')
                || prefix.contains(['#', '+', '%', '?'])
            {
                errors.push(format!("{path}.prefix: {prefix:?} is not a Shelly topic_prefix"));
            }
            claim(format!("shelly:{prefix}:{channel}"), errors);
        }
        DeviceSource::Json {
            topic,
            topic_key,
            fields,
            timestamp,
        } => {
            mapping::validate_json(fields, timestamp.as_deref(), path, errors);
            if let Some(c) = validate_json_topic(topic, topic_key.as_deref(), dev, path, errors) {
                claim(c, errors);
            }
        }
        DeviceSource::Wmbus {
            manufacturer,
            id,
            key,
            ..
        } => {
            if manufacturer.len() != 3 || !manufacturer.bytes().all(|b| b.is_ascii_uppercase()) {
                errors.push(format!(
                    "{path}.manufacturer: {manufacturer:?} is not a three-letter upper-case manufacturer code"
                ));
            }
            if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(format!("{path}.id: {id:?} is not an 8-digit meter id"));
            }
            if let Some(k) = key {
                let k = k.expose();
                if k.len() != 32 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                    // The key itself is never echoed.
                    errors.push(format!("{path}.key: must be 32 hex digits (an AES-128 key)"));
                }
            }
            claim(format!("wmbus:{manufacturer}{id}"), errors);
        }
        DeviceSource::Mbus {
            endpoint,
            address,
            secondary,
            interval,
        } => {
            let ep = StreamEndpoint::parse(endpoint, 2400, "E");
            if let Err(e) = &ep {
                errors.push(format!("{path}.endpoint: {e}"));
            }
            let who = match (address, secondary) {
                (Some(a), None) if (1..=250).contains(a) => Some(format!("p{a}")),
                (Some(a), None) => {
                    errors.push(format!("{path}.address: must be 1..=250, got {a}"));
                    None
                }
                (None, Some(s)) if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(format!("s{s}"))
                }
                (None, Some(s)) => {
                    errors.push(format!("{path}.secondary: {s:?} is not an 8-digit meter id"));
                    None
                }
                _ => {
                    errors.push(format!("{path}: give exactly one of address and secondary"));
                    None
                }
            };
            if interval.as_millis() < 1000 {
                errors.push(format!("{path}.interval: must be at least 1s"));
            }
            if let (Ok(ep), Some(who)) = (ep, who) {
                claim(format!("mbus:{}#{who}", ep.key()), errors);
            }
        }
        DeviceSource::Sml { endpoint } => match StreamEndpoint::parse(endpoint, 9600, "N") {
            Ok(ep) => claim(format!("sml:{}", ep.key()), errors),
            Err(e) => errors.push(format!("{path}.endpoint: {e}")),
        },
    }
}

/// Checks a generic JSON device's topic or pattern and key; returns its claim.
fn validate_json_topic(
    topic: &str,
    key: Option<&str>,
    dev: &Device,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    let levels = topic.split('/');
    let wildcards = levels.clone().filter(|l| *l == "+").count();
    if topic.is_empty() || topic.contains('#') || levels.clone().any(|l| l != "+" && l.contains('+')) {
        errors.push(format!(
            "{path}.topic: {topic:?} must be a topic, or a pattern with whole `+` levels (no `#`)"
        ));
        return None;
    }
    let Some(key) = pattern_key(topic, key, dev.id.as_str()) else {
        if key.is_some() {
            errors.push(format!(
                "{path}.topic_key: only for a pattern topic (with `+` levels)"
            ));
        }
        return Some(topic.to_owned());
    };
    let key_levels = key.split('/').count();
    if key.is_empty() || key.contains(['+', '#']) || key.split('/').any(str::is_empty) {
        errors.push(format!("{path}.topic_key: {key:?} is not a topic level"));
    } else if key_levels != wildcards {
        errors.push(format!(
            "{path}.topic_key: {key:?} has {key_levels} level(s), the pattern {topic:?} {wildcards} `+` level(s)"
        ));
    }
    Some(format!("{topic}|{key}"))
}

fn validate_sml(section: Option<&str>, sml: &[SmlField], path: &str, errors: &mut Vec<String>) {
    if section.is_some() == sml.is_empty() {
        errors.push(format!("{path}: sml_section and sml must be given together"));
    }
    for (i, f) in sml.iter().enumerate() {
        if let Err(e) = f.resolve() {
            errors.push(format!("{path}.sml[{i}]: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, Parity};

    #[test]
    fn stream_endpoints_parse_with_protocol_defaults() {
        let serial = StreamEndpoint::parse("serial:///dev/ttyUSB0", 2400, "E").expect("serial");
        let StreamEndpoint::Serial(s) = &serial else {
            panic!("{serial:?}")
        };
        assert_eq!((s.baud, s.parity, s.data_bits), (2400, Parity::Even, 8));
        let given = StreamEndpoint::parse("serial:///dev/ttyUSB1?baud=9600", 2400, "E").expect("serial");
        assert!(matches!(
            given,
            StreamEndpoint::Serial(SerialSettings {
                baud: 9600,
                parity: Parity::Even,
                ..
            })
        ));
        let tcp = StreamEndpoint::parse("10.0.0.5:10001", 9600, "N").expect("tcp");
        assert_eq!(tcp.key(), "tcp://10.0.0.5:10001");
        assert_eq!(StreamEndpoint::parse("tcp://10.0.0.5:10001", 9600, "N"), Ok(tcp));
        assert!(StreamEndpoint::parse("rtutcp://10.0.0.5:1", 9600, "N").is_err());
        assert!(StreamEndpoint::parse("serial://ttyUSB0", 9600, "N").is_err());
        assert!(StreamEndpoint::parse("10.0.0.5", 9600, "N").is_err());
    }

    #[test]
    fn mbus_and_sml_sources_report_every_problem() {
        let mut both = Device::mbus("m4", "10.0.0.1:10001", 3);
        if let DeviceSource::Mbus { secondary, .. } = &mut both.source {
            *secondary = Some("12345678".into());
        }
        let inv = Inventory::builder()
            .building(
                "b",
                [
                    Device::mbus("m1", "10.0.0.1:10001", 1),
                    Device::mbus("m2", "tcp://10.0.0.1:10001", 1),
                    Device::mbus("m3", "10.0.0.1:10001", 251),
                    both,
                    Device::mbus_secondary("m5", "serial:///dev/ttyUSB0", "1234567"),
                    Device::mbus_secondary("m6", "serial:///dev/ttyUSB0", "12345678")
                        .every(std::time::Duration::from_millis(500)),
                    Device::sml("s1", "10.0.0.2:2000"),
                    Device::sml("s2", "tcp://10.0.0.2:2000"),
                    Device::sml("s3", "nowhere"),
                ],
            )
            .build();
        let errors = inv.validate();
        let expected = [
            "devices[1].source: topic \"mbus:tcp://10.0.0.1:10001#p1\" is already read by",
            "devices[2].source.address: must be 1..=250, got 251",
            "devices[3].source: give exactly one of address and secondary",
            "devices[4].source.secondary: \"1234567\" is not an 8-digit meter id",
            "devices[5].source.interval: must be at least 1s",
            "devices[7].source: topic \"sml:tcp://10.0.0.2:2000\" is already read by",
            "devices[8].source.endpoint: expected host:port",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (e, x) in errors.iter().zip(expected) {
            assert!(e.contains(x), "{e} should contain {x}");
        }
    }
}
