#[test]
fn dbg_b11() {
    let s = super::Scenario::generate(super::ScenarioConfig::default());
    let from = chrono::DateTime::parse_from_rfc3339("2026-04-29T04:00:00Z")
        .expect("valid RFC 3339")
        .with_timezone(&chrono::Utc);
    let mut n = 0;
    s.replay(|t, batch| {
        if t >= from && n < 40 && t.timestamp() % 1800 == 0 {
            n += 1;
            for r in batch
                .iter()
                .filter(|r| r.device.as_str().starts_with("b11-heater"))
            {
                println!("{t} {:?}", r.values);
            }
        }
    });
    for i in &s.incidents {
        if i.site.as_str() == "b11" {
            println!("{i:?}");
        }
    }
}
