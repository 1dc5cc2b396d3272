//! Line protocol builder that cannot emit a malformed line.
//!
//! Guarantees of every line [`Line::write_to`] produces:
//! * measurement escapes `,` and space; tag keys/values and field keys escape `,`, `=` and space; string
//!   field values escape `"` and `\`;
//! * names and values contain no newline, no name is empty, tag values are never empty;
//! * tags are sorted by key (the order InfluxDB stores them in, which makes writes cheaper);
//! * at least one field, every float finite (NaN/±Inf are rejected, as InfluxDB would reject the line);
//! * integers carry the `i` suffix, so a field never silently changes type between float and integer.

use std::fmt::Write as _;

/// A field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// 64-bit float; must be finite.
    Float(f64),
    /// Signed 64-bit integer, written with the `i` suffix.
    Integer(i64),
    /// UTF-8 string without newlines.
    String(String),
    /// Boolean.
    Bool(bool),
}

/// Why a line could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// A measurement, tag or field name is empty.
    #[error("empty name")]
    EmptyName,
    /// A tag value is empty (InfluxDB rejects those; omit the tag instead).
    #[error("tag {0:?} has an empty value")]
    EmptyTagValue(String),
    /// A name or value contains a newline, which line protocol cannot carry.
    #[error("{0:?} contains a newline")]
    Newline(String),
    /// A float field is NaN or infinite.
    #[error("field {0:?} is not finite")]
    NotFinite(String),
    /// No fields at all.
    #[error("line has no fields")]
    NoFields,
    /// The same tag or field key twice.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
}

/// One point under construction.
#[derive(Debug, Clone)]
pub struct Line {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    timestamp: Option<i64>,
}

impl Line {
    /// Starts a line for `measurement`.
    pub fn new(measurement: impl Into<String>) -> Self {
        Self {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: FieldValue) -> Self {
        self.fields.push((key.into(), value));
        self
    }

    /// Sets the timestamp, in the precision the write uses.
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Validates and appends the line (with a trailing `\n`) to `out`. On error `out` is unchanged.
    pub fn write_to(mut self, out: &mut String) -> Result<(), LineError> {
        check_name(&self.measurement)?;
        if self.fields.is_empty() {
            return Err(LineError::NoFields);
        }
        self.tags.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for w in self.tags.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(LineError::DuplicateKey(w[0].0.clone()));
            }
        }
        for (k, v) in &self.tags {
            check_name(k)?;
            if v.is_empty() {
                return Err(LineError::EmptyTagValue(k.clone()));
            }
            check_name(v)?;
        }
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &self.fields {
            check_name(k)?;
            if !seen.insert(k.as_str()) {
                return Err(LineError::DuplicateKey(k.clone()));
            }
            match v {
                FieldValue::Float(f) if !f.is_finite() => return Err(LineError::NotFinite(k.clone())),
                FieldValue::String(s) if s.contains(['\n', '\r']) => {
                    return Err(LineError::Newline(k.clone()));
                }
                _ => {}
            }
        }
        escape(out, &self.measurement, &[',', ' ']);
        for (k, v) in &self.tags {
            out.push(',');
            escape(out, k, &[',', '=', ' ']);
            out.push('=');
            escape(out, v, &[',', '=', ' ']);
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            out.push(if i == 0 { ' ' } else { ',' });
            escape(out, k, &[',', '=', ' ']);
            out.push('=');
            // Writing to a String cannot fail.
            let _ = match v {
                FieldValue::Float(f) => write!(out, "{f:?}"),
                FieldValue::Integer(n) => write!(out, "{n}i"),
                FieldValue::Bool(b) => write!(out, "{b}"),
                FieldValue::String(s) => {
                    out.push('"');
                    escape(out, s, &['"', '\\']);
                    out.push('"');
                    Ok(())
                }
            };
        }
        if let Some(ts) = self.timestamp {
            let _ = write!(out, " {ts}");
        }
        out.push('\n');
        Ok(())
    }
}

fn check_name(s: &str) -> Result<(), LineError> {
    if s.is_empty() {
        return Err(LineError::EmptyName);
    }
    if s.contains(['\n', '\r']) {
        return Err(LineError::Newline(s.to_string()));
    }
    // A trailing backslash would escape the separator that follows it.
    if s.ends_with('\\') {
        return Err(LineError::Newline(format!("{s} (trailing backslash)")));
    }
    Ok(())
}

fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(line: Line) -> Result<String, LineError> {
        let mut s = String::new();
        line.write_to(&mut s).map(|()| s)
    }

    #[test]
    fn escapes_and_sorts() {
        let line = Line::new("my meas,ure=x")
            .tag("z", "last")
            .tag("a key", "v=1,2")
            .field("f x", FieldValue::Float(1.0))
            .field("n", FieldValue::Integer(-3))
            .field("s", FieldValue::String("say \"hi\" \\o/".into()))
            .field("b", FieldValue::Bool(true))
            .timestamp(1_700_000_000_000);
        assert_eq!(
            build(line).expect("valid"),
            "my\\ meas\\,ure=x,a\\ key=v\\=1\\,2,z=last f\\ x=1.0,n=-3i,s=\"say \\\"hi\\\" \\\\o/\",b=true 1700000000000\n"
        );
    }

    #[test]
    fn floats_keep_their_type() {
        let s = build(
            Line::new("m")
                .field("a", FieldValue::Float(3.0))
                .field("b", FieldValue::Float(1e-7)),
        )
        .expect("valid");
        assert_eq!(s, "m a=3.0,b=1e-7\n");
    }

    #[test]
    fn rejects_what_influx_would_reject() {
        let f = |v| Line::new("m").field("x", FieldValue::Float(v));
        let cases = [
            (f(f64::NAN), LineError::NotFinite("x".into())),
            (f(f64::INFINITY), LineError::NotFinite("x".into())),
            (Line::new("m"), LineError::NoFields),
            (
                Line::new("").field("x", FieldValue::Bool(true)),
                LineError::EmptyName,
            ),
            (f(1.0).tag("t", ""), LineError::EmptyTagValue("t".into())),
            (f(1.0).tag("t", "a\nb"), LineError::Newline("a\nb".into())),
            (
                f(1.0).tag("t", "a").tag("t", "b"),
                LineError::DuplicateKey("t".into()),
            ),
            (
                f(1.0).field("x", FieldValue::Integer(1)),
                LineError::DuplicateKey("x".into()),
            ),
        ];
        for (line, err) in cases {
            assert_eq!(build(line), Err(err));
        }
    }

    proptest::proptest! {
        /// Whatever the input, the builder emits exactly one line or an error, never a second line.
        #[test]
        fn never_emits_more_than_one_line(m in ".*", k in ".*", v in ".*", x in proptest::num::f64::ANY) {
            let line = Line::new(m).tag(k.clone(), v).field(k, FieldValue::Float(x));
            if let Ok(s) = build(line) {
                proptest::prop_assert_eq!(s.matches('\n').count(), 1);
                proptest::prop_assert!(s.ends_with('\n'));
                proptest::prop_assert!(x.is_finite());
            }
        }
    }
}
