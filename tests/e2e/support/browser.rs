//! Headless Chromium from the command line (Debian package `chromium`, installed by
//! `deploy/setup.sh --with-test-tools`): the DOM after the page ran ([`dump_dom`]) and screenshots
//! ([`screenshot`]) written as test artefacts under `target/e2e-artifacts/` ([`artifacts`]).
//!
//! Each call runs a fresh browser with its own throwaway profile. `--virtual-time-budget` lets the page's
//! scripts, fetches and timers run for that much virtual time before the DOM is taken, so no test sleeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};

/// How long one browser run may take in real time.
const LIMIT: Duration = Duration::from_secs(90);

/// A browser window: width, height in CSS pixels.
pub type Window = (u32, u32);

/// A desktop window.
pub const DESKTOP: Window = (1280, 1800);
/// A phone (portrait).
pub const PHONE: Window = (412, 1600);

async fn run(
    url: &str,
    budget_ms: u32,
    window: Window,
    mode: &[String],
) -> anyhow::Result<std::process::Output> {
    // Headless Chromium occasionally never returns from a virtual-time run on a loaded machine (the page
    // had finished; the browser process did not exit). One more run with a fresh profile settles it; a
    // page that really does not finish fails both.
    match run_once(url, budget_ms, window, mode).await {
        Err(e) if e.to_string().contains("did not finish") => {
            eprintln!("chromium did not finish {url} within {LIMIT:?}; running it once more");
            run_once(url, budget_ms, window, mode).await
        }
        other => other,
    }
}

async fn run_once(
    url: &str,
    budget_ms: u32,
    window: Window,
    mode: &[String],
) -> anyhow::Result<std::process::Output> {
    let profile = tempfile::tempdir()?;
    let Ok(out) = tokio::time::timeout(
        LIMIT,
        tokio::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--lang=de-DE",
            ])
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(mode)
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    else {
        anyhow::bail!("chromium did not finish {url} within {LIMIT:?}");
    };
    out.context("chromium not found: run deploy/setup.sh --with-test-tools (Debian package chromium)")
}

/// The DOM of `url` after `budget_ms` of virtual time.
pub async fn dump_dom(url: &str, budget_ms: u32, window: Window) -> anyhow::Result<String> {
    let out = run(url, budget_ms, window, &["--dump-dom".into()]).await?;
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        dom.contains("<html"),
        "chromium printed no DOM for {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(dom)
}

/// A PNG of `url` after `budget_ms` of virtual time, written to `path`.
pub async fn screenshot(url: &str, budget_ms: u32, window: Window, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let out = run(
        url,
        budget_ms,
        window,
        &[format!("--screenshot={}", path.display())],
    )
    .await?;
    ensure!(
        path.metadata().is_ok_and(|m| m.len() > 1000),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `target/e2e-artifacts/<name>` (or under `$CARGO_TARGET_DIR`), created.
pub fn artifacts(name: &str) -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("e2e-artifacts").join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The values of attribute `attr` in `dom`, in document order (`attr="value"`).
pub fn attr_values<'a>(dom: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!("{attr}=\"");
    dom.split(key.as_str())
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The text of the element with `id` (its first text up to the next tag), HTML entities as they are.
pub fn text_of<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let rest = &dom[start..];
    let open = rest.find('>')? + 1;
    rest[open..].split('<').next()
}

/// The time budget [`check_view`] gives a view to load, run axe-core and settle.
pub const VIEW_BUDGET: u32 = 8000;

/// The axe-core violations the page wrote, as `(id, impact)`.
pub fn axe_violations(dom: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = text_of(dom, "axe-result").context("no axe result in the page")?;
    let json = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&json).with_context(|| json.clone())?;
    Ok(v.as_array()
        .context("violations")?
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap_or("").to_string(),
                x["impact"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect())
}

/// Loads `url` with axe, checks it finished `view` without a serious or critical violation, saves a
/// screenshot as `<name>.png`, and returns the DOM.
pub async fn check_view(url: &str, view: &str, window: (u32, u32), name: &str) -> anyhow::Result<String> {
    let dom = dump_dom(url, VIEW_BUDGET, window).await?;
    assert!(
        dom.contains(&format!("data-ready=\"{view}\"")),
        "{view} did not finish loading: {:?}\n{dom}",
        attr_values(&dom, "data-error")
    );
    let bad: Vec<_> = axe_violations(&dom)?
        .into_iter()
        .filter(|(_, impact)| impact == "serious" || impact == "critical")
        .collect();
    assert!(bad.is_empty(), "{view}: accessibility violations {bad:?}");
    let shot = artifacts("dashboard")?.join(format!("{name}.png"));
    screenshot(&url.replace("axe=1", "shot=1"), VIEW_BUDGET, window, &shot).await?;
    Ok(dom)
}

/// `s` percent-encoded for a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
