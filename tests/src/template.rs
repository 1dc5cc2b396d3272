//! Renders the service configurations shipped in `deploy/conf/`, so the test stacks run the broker and the
//! database with exactly the settings `deploy/demo.sh` uses.
//!
//! A template names its parameters as `@NAME@`; [`render`] replaces each and refuses a template that still
//! holds a placeholder afterwards, so a parameter added to a template cannot be forgotten here.

/// `deploy/conf/mosquitto.conf.in`.
pub(crate) const MOSQUITTO: &str = include_str!("../../deploy/conf/mosquitto.conf.in");
/// `deploy/conf/influxdb.conf.in`.
pub(crate) const INFLUXDB: &str = include_str!("../../deploy/conf/influxdb.conf.in");

/// Replaces every `@NAME@` in `template` by its value from `values`.
///
/// # Panics
/// If a placeholder is left without a value: that is a bug in the harness, found by its unit tests.
pub(crate) fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    let unfilled: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.matches('@').count() >= 2)
        .collect();
    assert!(
        unfilled.is_empty(),
        "template placeholders without a value: {unfilled:?}"
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder() {
        let text = render(
            "a = @A@\n# @NOT@ in a comment\nb = @B@:@A@\n",
            &[("A", "1"), ("B", "x")],
        );
        assert_eq!(text, "a = 1\n# @NOT@ in a comment\nb = x:1\n");
    }

    #[test]
    #[should_panic(expected = "without a value")]
    fn refuses_a_missing_value() {
        render("a = @A@\n", &[]);
    }
}
