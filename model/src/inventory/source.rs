//! Validation of device sources, and the topic-pattern matching generic JSON devices use.
//!
//! Every source claims the topics it reads; two devices claiming the same one is an error. Claims are the
//! exact topic, `tasmota:<topic>`, `shelly:<prefix>:<channel>` (several channels of one Shelly share its
//! prefix), `wmbus:<manufacturer><id>` (a wireless M-Bus meter's secondary address), and `<pattern>|<key>` for a generic JSON device on a topic pattern (several devices share a
//! pattern, each with its own key).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Device, DeviceSource, ModbusEndpoint, SmlField, TTN_MODELS, mapping};

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
