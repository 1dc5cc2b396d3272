//! Validated identifiers for sites, devices, trees and users.
//!
//! An [`Id`] is 1–64 characters of `a-z`, `0-9`, `-` and `_`, starting with a letter or digit. That alphabet is
//! safe as an MQTT topic level (no `+`, `#`, `/`), as an InfluxDB tag value (no escaping needed) and in a URL
//! path, so an id can be spliced into any of them without a second round of validation.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest accepted identifier, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid [`Id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("id is empty")]
    Empty,
    /// The string is longer than [`MAX_ID_LEN`].
    #[error("id is {0} bytes long, at most {MAX_ID_LEN} are allowed")]
    TooLong(usize),
    /// The string contains a character outside `a-z0-9-_` or starts with `-`/`_`.
    #[error("id {0:?} may only contain a-z, 0-9, '-' and '_' and must start with a letter or digit")]
    BadCharacter(String),
}

/// A validated identifier (site, device, tree or user).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    /// Validates `s` as an identifier.
    pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
        let s = s.into();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(IdError::TooLong(s.len()));
        }
        let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_';
        let first_ok = s.as_bytes()[0].is_ascii_lowercase() || s.as_bytes()[0].is_ascii_digit();
        if !first_ok || !s.bytes().all(ok_char) {
            return Err(IdError::BadCharacter(s));
        }
        Ok(Self(s))
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::str::FromStr for Id {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        for ok in ["a", "rathaus", "hh-12", "tree_0042", "9abc"] {
            assert!(Id::new(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        let cases: [(&str, IdError); 7] = [
            ("", IdError::Empty),
            (&long, IdError::TooLong(65)),
            ("Rathaus", IdError::BadCharacter("Rathaus".into())),
            ("a/b", IdError::BadCharacter("a/b".into())),
            ("a+", IdError::BadCharacter("a+".into())),
            ("-a", IdError::BadCharacter("-a".into())),
            ("a b", IdError::BadCharacter("a b".into())),
        ];
        for (input, err) in cases {
            assert_eq!(Id::new(input), Err(err));
        }
    }

    #[test]
    fn deserialize_validates() {
        let bad: Result<Id, _> = serde_json::from_str("\"x#\"");
        assert!(bad.is_err());
        let good: Id = serde_json::from_str("\"x-1\"").expect("valid id");
        assert_eq!(good.as_str(), "x-1");
    }

    proptest::proptest! {
        #[test]
        fn valid_ids_are_topic_and_tag_safe(s in "[a-z0-9][a-z0-9_-]{0,63}") {
            let id = Id::new(s.clone()).expect("matches the documented alphabet");
            proptest::prop_assert!(!id.as_str().contains(['/', '+', '#', ',', ' ', '=', '"']));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".*") {
            let _ = Id::new(s);
        }
    }
}
