use super::*;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).expect("test time")
}

fn keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.0.{}.{}:502", i / 250, i % 250))
        .collect()
}

#[test]
fn the_weight_is_fnv1a_64_of_member_nul_key_then_fmix64() {
    // FNV-1a 64 test vectors (Fowler/Noll/Vo): "" and "a".
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fmix64(0), 0);
    assert_eq!(weight("gw-1", "dev"), fmix64(fnv1a64(b"gw-1\0dev")));
    assert_ne!(
        weight("gw-1", "dev"),
        weight("gw-1d", "ev"),
        "the separator keeps member and key apart"
    );
}

#[test]
fn the_owner_is_the_highest_weight_and_nobody_without_members() {
    assert_eq!(Members::default().owner("k"), None);
    let m = Members::new(["gw-b", "gw-a", "gw-c", "gw-a"]);
    assert_eq!(m.iter().collect::<Vec<_>>(), ["gw-a", "gw-b", "gw-c"]);
    for k in keys(50) {
        let best = m.iter().max_by_key(|id| weight(id, &k)).expect("members");
        assert_eq!(m.owner(&k), Some(best));
        assert!(m.owns(best, &k));
        assert_eq!(
            m.iter().filter(|id| m.owns(id, &k)).count(),
            1,
            "exactly one owner of {k}"
        );
    }
}

#[test]
fn keys_spread_evenly_over_members_with_similar_names() {
    let m = Members::new(["gw-1", "gw-2", "gw-3"]);
    let mut count = BTreeMap::new();
    for k in keys(3000) {
        *count.entry(m.owner(&k).expect("owner").to_owned()).or_insert(0) += 1;
    }
    for (id, n) in &count {
        assert!((850..=1150).contains(n), "{id} owns {n} of 3000: {count:?}");
    }
}

#[test]
fn one_member_joining_takes_only_keys_for_itself() {
    let before = Members::new(["gw-1", "gw-2", "gw-3"]);
    let after = Members::new(["gw-1", "gw-2", "gw-3", "gw-4"]);
    let mut moved = 0;
    for k in keys(2000) {
        let (old, new) = (before.owner(&k), after.owner(&k));
        if old != new {
            assert_eq!(new, Some("gw-4"), "{k} moved from {old:?} to {new:?}");
            moved += 1;
        }
    }
    assert!((350..=650).contains(&moved), "the newcomer took {moved} of 2000");
}

#[test]
fn one_member_leaving_hands_over_only_its_own_keys() {
    let before = Members::new(["gw-1", "gw-2", "gw-3"]);
    let after = Members::new(["gw-1", "gw-3"]);
    for k in keys(2000) {
        let (old, new) = (before.owner(&k), after.owner(&k));
        if old == Some("gw-2") {
            assert!(new == Some("gw-1") || new == Some("gw-3"));
        } else {
            assert_eq!(old, new, "{k} moved though its owner stayed");
        }
    }
}

#[test]
fn the_roster_expires_the_silent_and_forgets_who_left() {
    let timeout = Duration::from_secs(10);
    let mut r = Roster::default();
    r.observe("gw-1", t(0));
    r.observe("gw-2", t(5));
    r.observe("gw-2", t(1)); // older news never turns the clock back
    assert_eq!(r.live(t(10), timeout), Members::new(["gw-1", "gw-2"]));
    assert_eq!(
        r.live(t(11), timeout),
        Members::new(["gw-2"]),
        "gw-1 silent for 11 s"
    );
    r.observe("gw-3", t(12));
    r.leave("gw-2");
    assert_eq!(r.live(t(12), timeout), Members::new(["gw-3"]));
    // After an outage of our own, everyone known gets a full timeout again.
    r.refresh(t(40));
    assert_eq!(r.live(t(49), timeout), Members::new(["gw-3"]));
    assert!(r.live(t(51), timeout).is_empty());
}

#[test]
fn settings_are_checked() {
    assert!(MembershipConfig::default().validate("gateway.shards").is_empty());
    let bad = MembershipConfig {
        heartbeat: Duration::from_millis(10),
        timeout: Duration::from_millis(20),
    };
    let errors = bad.validate("gateway.shards");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("gateway.shards.heartbeat: "), "{errors:?}");
    assert!(errors[1].starts_with("gateway.shards.timeout: "), "{errors:?}");
    let cfg: MembershipConfig =
        serde_json::from_value(serde_json::json!({ "heartbeat": "1s" })).expect("test value");
    assert_eq!(cfg.heartbeat, Duration::from_secs(1));
    assert_eq!(cfg.timeout, Duration::from_secs(10));
    assert_eq!(cfg.settle(), Duration::from_secs(1));
}

#[test]
fn heartbeat_topics_parse_only_for_their_service() {
    let topic = topic("gateway", "gw-1");
    assert_eq!(topic, "zw/v1/members/gateway/gw-1");
    assert_eq!(parse_topic("gateway", &topic), Some("gw-1"));
    assert_eq!(parse_topic("analytics", &topic), None);
    assert_eq!(parse_topic("gateway", "zw/v1/members/gateway/"), None);
    assert_eq!(parse_topic("gateway", "zw/v1/members/gateway/a/b"), None);
    assert_eq!(filter("analytics"), "zw/v1/members/analytics/+");
}

#[test]
fn owners_release_at_once_and_take_only_once_settled() {
    let one = Members::new(["gw-1"]);
    let two = Members::new(["gw-1", "gw-2"]);
    let k = keys(200)
        .into_iter()
        .find(|k| two.owns("gw-2", k))
        .expect("a key of gw-2");
    // A newcomer works nothing before its view settled.
    let fresh = Owners {
        current: two.clone(),
        settled: Members::default(),
    };
    assert!(!fresh.owns("gw-2", &k) && !fresh.is_settled());
    // gw-1 sees gw-2 join: releases k at once.
    let joined = Owners {
        current: two.clone(),
        settled: one.clone(),
    };
    assert!(!joined.owns("gw-1", &k) && !joined.owns("gw-2", &k));
    let settled = Owners {
        current: two.clone(),
        settled: two.clone(),
    };
    assert!(settled.owns("gw-2", &k) && !settled.owns("gw-1", &k) && settled.is_settled());
    // gw-2 gone: gw-1 takes k only once that settled too.
    let gone = Owners {
        current: one.clone(),
        settled: two,
    };
    assert!(!gone.owns("gw-1", &k));
    let back = Owners {
        current: one.clone(),
        settled: one,
    };
    assert!(back.owns("gw-1", &k));
}
