//! The admin view in headless Chromium against a running system with `[store]` (a SQLite file in the
//! stack's folder): an admin creates a household with its meter in the page and gets the activation code;
//! the view passes axe-core without a serious or critical violation and lists the new household and its
//! audit entry; the resident redeems the code and sees only their household in the dashboard, with no file
//! edited and nothing restarted. Screenshots go to `target/e2e-artifacts/dashboard-admin/`.

use std::time::Duration;

use anyhow::Context as _;
use zw_model::{Inventory, Site, SiteKind};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::browser::{DESKTOP, artifacts, attr_values, dump_dom, enc, screenshot, text_of};
use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Virtual time the page gets before its DOM is read.
const BUDGET: u32 = 16000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_onboards_a_household_in_the_page_and_its_resident_sees_only_it() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.store.url = Some(format!(
        "sqlite://{}",
        stack.state_dir().join("store.db").display()
    ));
    cfg.inventory = Inventory::builder()
        .site(Site::new("rathaus", SiteKind::Building, []))
        .build();
    cfg.inventory.users = vec![admin()];
    let path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    let steps: String = [
        "fill:#hh-id=hh-42",
        "fill:#hh-name=Familie Berger",
        "fill:#hh-address=Lindenweg 4",
        "fill:#hh-since=2026-12-01",
        "fill:#hh-dev-id=hh-42-plug",
        "fill:#hh-dev-type=tasmota",
        "fill:#hh-dev-source=topic: plug42",
        "click:#hh-create",
    ]
    .iter()
    .map(|s| format!("step={}", enc(s)))
    .collect::<Vec<_>>()
    .join("&");
    let url = format!("{api}/?axe=1&{steps}#token=tok-admin&view=admin");
    let dom = dump_dom(&url, BUDGET, DESKTOP).await?;
    assert!(
        dom.contains("data-ready=\"admin\""),
        "the admin view did not load: {:?}\n{dom}",
        attr_values(&dom, "data-error")
    );
    let code = text_of(&dom, "hh-code")
        .with_context(|| format!("no activation code in the page: {dom}"))?
        .to_owned();
    assert_eq!(code.len(), 19, "{code}");
    assert!(
        attr_values(&dom, "data-site").contains(&"hh-42"),
        "the lists were not re-read: {dom}"
    );
    assert!(attr_values(&dom, "data-device").contains(&"hh-42-plug"), "{dom}");
    let axe = text_of(&dom, "axe-result").context("no axe result")?;
    let axe: serde_json::Value = serde_json::from_str(&axe.replace("&quot;", "\""))?;
    let bad: Vec<_> = axe
        .as_array()
        .context("violations")?
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .collect();
    assert!(bad.is_empty(), "admin view: accessibility violations {bad:?}");
    screenshot(
        &format!("{api}/#token=tok-admin&view=admin"),
        BUDGET,
        DESKTOP,
        &artifacts("dashboard-admin")?.join("admin.png"),
    )
    .await?;

    // The resident redeems the code from the letter and is served from the next request on.
    let resp = reqwest::Client::new()
        .post(format!("{api}/api/v1/activate"))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 201);
    let activated: serde_json::Value = resp.json().await?;
    let token = activated["token"].as_str().context("token")?.to_owned();
    let (status, sites) = get(&format!("{api}/api/v1/sites"), Some(&token)).await?;
    assert_eq!(status, 200, "{sites}");
    let ids: Vec<&str> = sites
        .as_array()
        .context("sites")?
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["hh-42"]);
    let dom = dump_dom(&format!("{api}/#token={token}"), BUDGET, DESKTOP).await?;
    assert!(dom.contains("data-ready=\"home\""), "{dom}");
    assert!(!dom.contains("rathaus"), "the resident sees only their household");
    all.stop(Duration::from_secs(15)).await?;
    Ok(())
}
