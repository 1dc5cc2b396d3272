//! Tasmota's configurable FullTopic (`%prefix%/%topic%/` by default, but e.g. `tasmota/%topic%/%prefix%/` is
//! common): a topic is matched against the *pattern*, never by fixed position.

/// One level of a FullTopic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Prefix,
    Topic,
    Literal(String),
}

/// A parsed FullTopic pattern; the topic's last level (`SENSOR`, `STATE`, `LWT`) follows the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTopic {
    levels: Vec<Level>,
}

/// The parts of a topic that matched a [`FullTopic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// `tele`, `stat` or `cmnd`.
    pub prefix: &'a str,
    /// The device's `%topic%`.
    pub topic: &'a str,
    /// The last level (`SENSOR`, `STATE`, `LWT`, …).
    pub suffix: &'a str,
}

impl FullTopic {
    /// Parses a pattern: levels are `%prefix%`, `%topic%` or literal text, each token exactly once.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let trimmed = pattern.strip_suffix('/').unwrap_or(pattern);
        let mut levels = Vec::new();
        for l in trimmed.split('/') {
            levels.push(match l {
                "%prefix%" => Level::Prefix,
                "%topic%" => Level::Topic,
                _ if l.is_empty() || l.contains(['%', '+', '#']) => {
                    return Err(format!(
                        "FullTopic {pattern:?}: level {l:?} must be %prefix%, %topic% or plain text"
                    ));
                }
                _ => Level::Literal(l.to_owned()),
            });
        }
        let count = |x: &Level| levels.iter().filter(|l| *l == x).count();
        if count(&Level::Prefix) != 1 || count(&Level::Topic) != 1 {
            return Err(format!(
                "FullTopic {pattern:?}: needs %prefix% and %topic% exactly once each"
            ));
        }
        Ok(Self { levels })
    }

    /// The topic for `prefix`, device `topic` and last level `suffix`; `+` for either gives a filter.
    pub fn topic(&self, prefix: &str, topic: &str, suffix: &str) -> String {
        let mut out = String::new();
        for l in &self.levels {
            out.push_str(match l {
                Level::Prefix => prefix,
                Level::Topic => topic,
                Level::Literal(s) => s,
            });
            out.push('/');
        }
        out.push_str(suffix);
        out
    }

    /// Matches a topic against the pattern.
    pub fn matches<'a>(&self, topic: &'a str) -> Option<Match<'a>> {
        let mut parts = topic.split('/');
        let (mut prefix, mut device) = ("", "");
        for l in &self.levels {
            let part = parts.next()?;
            match l {
                Level::Prefix => prefix = part,
                Level::Topic => device = part,
                Level::Literal(s) if s == part => {}
                Level::Literal(_) => return None,
            }
        }
        let suffix = parts.next()?;
        if parts.next().is_some() || prefix.is_empty() || device.is_empty() || suffix.is_empty() {
            return None;
        }
        Some(Match {
            prefix,
            topic: device,
            suffix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_reordered_layouts() {
        let cases = [
            ("%prefix%/%topic%/", "tele/plug1/SENSOR", "tele/+/+"),
            (
                "tasmota/%topic%/%prefix%/",
                "tasmota/plug1/tele/SENSOR",
                "tasmota/+/tele/+",
            ),
            (
                "home/%prefix%/x/%topic%",
                "home/tele/x/plug1/SENSOR",
                "home/tele/x/+/+",
            ),
        ];
        for (pattern, topic, filter) in cases {
            let f = FullTopic::parse(pattern).expect(pattern);
            assert_eq!(f.topic("tele", "plug1", "SENSOR"), topic);
            assert_eq!(f.topic("tele", "+", "+"), filter);
            let m = f.matches(topic).expect(topic);
            assert_eq!((m.prefix, m.topic, m.suffix), ("tele", "plug1", "SENSOR"));
        }
    }

    #[test]
    fn foreign_topics_and_bad_patterns() {
        let f = FullTopic::parse("tasmota/%topic%/%prefix%/").expect("valid");
        for t in [
            "tele/plug1/SENSOR",
            "tasmota/plug1/tele",
            "tasmota/plug1/tele/SENSOR/x",
            "tasmota//tele/SENSOR",
        ] {
            assert_eq!(f.matches(t), None, "{t}");
        }
        for p in [
            "%topic%/",
            "%prefix%/%prefix%/%topic%",
            "a/+/%prefix%/%topic%",
            "%prefix%//%topic%",
            "%hostname%/%prefix%/%topic%",
        ] {
            assert!(FullTopic::parse(p).is_err(), "{p}");
        }
    }
}
