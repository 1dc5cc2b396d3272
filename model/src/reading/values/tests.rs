use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// One map operation, applied to a `Values` and a `BTreeMap` alike.
#[derive(Debug, Clone)]
enum Op {
    Insert(usize, f64),
    Remove(usize),
    Retain(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let q = 0..N;
    prop_oneof![
        6 => (q.clone(), prop_oneof![any::<f64>(), -1e6..1e6f64]).prop_map(|(q, v)| Op::Insert(q, v)),
        2 => q.clone().prop_map(Op::Remove),
        1 => q.prop_map(Op::Retain),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    /// Every query and every form of iteration agrees with a `BTreeMap<Quantity, f64>` after any sequence of
    /// operations, and so do the JSON and Debug forms.
    #[test]
    fn behaves_like_a_btree_map(ops in prop::collection::vec(op(), 0..40)) {
        let (mut v, mut m) = (Values::new(), BTreeMap::new());
        for op in ops {
            match op {
                Op::Insert(i, x) => {
                    let q = Quantity::ALL[i];
                    let (a, b) = (v.insert(q, x), m.insert(q, x));
                    prop_assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
                }
                Op::Remove(i) => {
                    let q = Quantity::ALL[i];
                    prop_assert_eq!(v.remove(&q).map(f64::to_bits), m.remove(&q).map(f64::to_bits));
                }
                // Keeps the quantities whose index is not a multiple of `k + 1`.
                Op::Retain(k) => {
                    v.retain(|q, _| !(*q as usize).is_multiple_of(k + 1));
                    m.retain(|q, _| !(*q as usize).is_multiple_of(k + 1));
                }
                Op::Clear => {
                    v.clear();
                    m.clear();
                }
            }
        }
        let bits = |it: &mut dyn Iterator<Item = (Quantity, f64)>| -> Vec<(Quantity, u64)> {
            it.map(|(q, x)| (q, x.to_bits())).collect()
        };
        let want = bits(&mut m.iter().map(|(q, x)| (*q, *x)));
        prop_assert_eq!(bits(&mut v.iter().map(|(q, x)| (*q, *x))), want.clone());
        prop_assert_eq!(bits(&mut v.clone().into_iter()), want.clone());
        let mut reversed = want.clone();
        reversed.reverse();
        prop_assert_eq!(bits(&mut v.iter().rev().map(|(q, x)| (*q, *x))), reversed);
        prop_assert_eq!(v.keys().copied().collect::<Vec<_>>(), m.keys().copied().collect::<Vec<_>>());
        prop_assert_eq!(v.values().map(|x| x.to_bits()).collect::<Vec<_>>(), m.values().map(|x| x.to_bits()).collect::<Vec<_>>());
        prop_assert_eq!((v.len(), v.is_empty(), v.iter().len()), (m.len(), m.is_empty(), m.len()));
        for &q in Quantity::ALL {
            prop_assert_eq!(v.contains_key(&q), m.contains_key(&q));
            prop_assert_eq!(v.get(&q).map(|x| x.to_bits()), m.get(&q).map(|x| x.to_bits()));
        }
        prop_assert_eq!(format!("{v:?}"), format!("{m:?}"));
        let nan = m.values().any(|x| x.is_nan());
        let from_map = Values::from(m.clone());
        prop_assert_eq!(v == from_map, !nan);
        prop_assert_eq!(v == m, !nan);
        if m.values().all(|x| x.is_finite()) {
            let json = serde_json::to_string(&v).expect("serialises");
            prop_assert_eq!(&json, &serde_json::to_string(&m).expect("serialises"));
            // Compared with what a `BTreeMap` reads back: serde_json's default float parsing is not exact.
            let back: Values = serde_json::from_str(&json).expect("parses");
            let m_back: BTreeMap<Quantity, f64> = serde_json::from_str(&json).expect("parses");
            prop_assert_eq!(back, m_back);
        }
    }
}

#[test]
fn reads_the_json_a_btree_map_reads() {
    let cases = [
        r#"{}"#,
        r#"{"active_power":1207.5,"energy_import":12345678}"#,
        r#"{"voltage_l1":230.1,"active_power":-5}"#,
        // A repeated key keeps its last value, as in a `BTreeMap`.
        r#"{"active_power":1,"active_power":2}"#,
        r#"{"watts":1}"#,
        r#"{"active_power":"1"}"#,
        r#"{"active_power":null}"#,
        r#"[]"#,
        r#"{"active_power":1"#,
    ];
    for json in cases {
        let v = serde_json::from_str::<Values>(json).map(BTreeMap::from);
        let m = serde_json::from_str::<BTreeMap<Quantity, f64>>(json);
        match (v, m) {
            (Ok(v), Ok(m)) => assert_eq!(v, m, "{json}"),
            (Err(_), Err(_)) => {}
            (v, m) => panic!("{json}: {v:?} vs {m:?}"),
        }
    }
}

#[test]
fn builds_from_sorted_pairs_and_arrays() {
    let pairs = [
        (Quantity::ActivePower, 1.0),
        (Quantity::VoltageL1, 230.0),
        (Quantity::BatteryVoltage, 3.6),
    ];
    let v = Values::from_sorted(&pairs);
    assert_eq!(v, Values::from(pairs));
    assert_eq!(
        v.iter().map(|(q, x)| (*q, *x)).collect::<Vec<_>>(),
        pairs.to_vec()
    );
    assert_eq!(Values::from_sorted(&[]), Values::new());
    let mut w = Values::new();
    w.extend(&v);
    assert_eq!(w, v);
    *w.get_mut(&Quantity::VoltageL1).expect("present") = 231.0;
    for x in w.values_mut() {
        *x *= 2.0;
    }
    for (_, x) in w.iter_mut() {
        *x += 1.0;
    }
    assert_eq!(w.get(&Quantity::VoltageL1), Some(&463.0));
    assert_eq!(w[&Quantity::BatteryVoltage], 8.2);
    assert_eq!(w.get_mut(&Quantity::Frequency), None);
}

#[test]
#[should_panic(expected = "no value for frequency")]
fn indexing_a_missing_quantity_panics() {
    let _ = Values::new()[&Quantity::Frequency];
}
