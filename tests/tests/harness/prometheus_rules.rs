//! The shipped Prometheus alerting rules (`deploy/prometheus/`) are valid, pass their promtool unit tests,
//! and watch only metrics that Zählwerk really exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs promtool with `args` in `deploy/prometheus/`, failing with its output unless it succeeds.
fn promtool(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo().join("deploy/prometheus"))
        .output()
        .context("promtool not found: run deploy/setup.sh (Debian package prometheus)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "promtool {args:?} failed:\n{text}");
    Ok(text)
}

#[test]
fn rules_are_valid_and_pass_their_unit_tests() -> anyhow::Result<()> {
    let checked = promtool(&["check", "rules", "zaehlwerk.rules.yml"])?;
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "zaehlwerk.rules.test.yml"])?;
    assert!(tested.contains("SUCCESS"), "{tested}");
    Ok(())
}

/// Every `zw_*` name in `text`, without a histogram's `_bucket`/`_sum`/`_count` suffix.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("zw_") {
        let start = i + at;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .map_or(text.len(), |n| start + n);
        if boundary {
            let name = &text[start..end];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            names.insert(base.to_owned());
        }
        i = end;
    }
    names
}

/// The contents of every `.rs` file under the workspace crates' `src/` directories.
fn sources() -> anyhow::Result<String> {
    let mut all = String::new();
    let mut dirs = vec![repo()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() && !matches!(name, "target" | ".git" | "tests" | "benches" | "fuzz") {
                dirs.push(path);
            } else if name.ends_with(".rs") {
                all.push_str(&std::fs::read_to_string(&path)?);
            }
        }
    }
    Ok(all)
}

#[test]
fn rules_watch_only_exported_metrics() -> anyhow::Result<()> {
    let rules = std::fs::read_to_string(repo().join("deploy/prometheus/zaehlwerk.rules.yml"))?;
    let used = metric_names(&rules);
    assert!(
        used.len() >= 10,
        "expected the rules to watch at least 10 metrics, found {used:?}"
    );
    let code = sources()?;
    let missing: Vec<_> = used
        .iter()
        .filter(|m| !code.contains(&format!("\"{m}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "rules use metrics no crate registers: {missing:?}"
    );
    Ok(())
}

#[test]
fn metric_names_strips_histogram_suffixes() {
    let names = metric_names("rate(zw_a_seconds_bucket[5m]) + zw_b_total{x=\"y\"} / my_zw_c");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["zw_a_seconds", "zw_b_total"]
    );
}
