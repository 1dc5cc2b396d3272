//! Profile tests: decoding of every type and order (table-driven and against an independent encoder),
//! coalescing, the shipped profiles, and error reporting.

use super::*;

fn value(t: DataType, order: ByteOrder) -> Value {
    Value {
        quantity: Quantity::ActivePower,
        function: 4,
        address: 0,
        data_type: t,
        order,
        scale: 1.0,
        offset: 0.0,
    }
}

const ORDERS: [ByteOrder; 4] = [ByteOrder::ABCD, ByteOrder::DCBA, ByteOrder::BADC, ByteOrder::CDAB];

/// An encoder written independently of `decode`: lays big-endian bytes out by explicit index maps.
fn encode(be: &[u8], order: ByteOrder) -> Vec<u16> {
    let n = be.len();
    let laid: Vec<u8> = (0..n)
        .map(|i| match order {
            ByteOrder::ABCD => be[i],
            ByteOrder::DCBA => be[n - 1 - i],
            ByteOrder::BADC => be[i ^ 1],
            // Word k of the output is word (words - 1 - k) of the big-endian value.
            ByteOrder::CDAB => be[n - 2 - (i / 2) * 2 + (i % 2)],
        })
        .collect();
    laid.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
}

#[test]
fn decodes_datasheet_fixtures() {
    // float32 big-endian fixtures from the Eastron register map.
    let cases: [([u16; 2], f64); 6] = [
        ([0x4366, 0x199A], 230.1),
        ([0x40A8, 0x0000], 5.25),
        ([0x4496, 0xF000], 1207.5),
        ([0x4248, 0x0000], 50.0),
        ([0x4640, 0xE6B6], 12345.678),
        ([0x3F7A, 0xE148], 0.98),
    ];
    for (regs, want) in cases {
        let got = decode(&value(DataType::F32, ByteOrder::ABCD), 0, &regs).expect("decodes");
        assert!((got - want).abs() < 1e-3, "{regs:04X?}: {got} != {want}");
    }
}

#[test]
fn every_type_in_every_order() {
    // Table: (type, big-endian bytes, expected value); each is laid out in all four orders.
    let cases: [(DataType, Vec<u8>, f64); 10] = [
        (DataType::U16, vec![0xFF, 0xF6], 65526.0),
        (DataType::I16, vec![0xFF, 0xF6], -10.0),
        (DataType::U32, vec![0x11, 0x22, 0x33, 0x44], 287_454_020.0),
        (DataType::I32, vec![0xFF, 0xFF, 0xFF, 0xFE], -2.0),
        (DataType::U64, vec![0, 0, 0, 1, 0, 0, 0, 2], 4_294_967_298.0),
        (DataType::I64, vec![0xFF; 8], -1.0),
        (DataType::F32, vec![0x43, 0x66, 0x19, 0x9A], f64::from(230.1f32)),
        (DataType::F32, vec![0xC4, 0x96, 0xF0, 0x00], -1207.5),
        (DataType::F64, vec![0x40, 0x59, 0, 0, 0, 0, 0, 0], 100.0),
        (
            DataType::F64,
            vec![0xC0, 0xC8, 0x1C, 0xD6, 0xC8, 0xB4, 0x39, 0x58],
            -12345.678,
        ),
    ];
    for (t, be, want) in &cases {
        for order in ORDERS {
            let regs = encode(be, order);
            assert_eq!(
                decode(&value(*t, order), 0, &regs),
                Ok(*want),
                "{t:?} {order:?} {regs:04X?}"
            );
        }
    }
    // The classic 0x11223344 layouts, written out by hand.
    let u32s = [
        (ByteOrder::ABCD, [0x1122, 0x3344]),
        (ByteOrder::CDAB, [0x3344, 0x1122]),
        (ByteOrder::BADC, [0x2211, 0x4433]),
        (ByteOrder::DCBA, [0x4433, 0x2211]),
    ];
    for (order, regs) in u32s {
        assert_eq!(encode(&[0x11, 0x22, 0x33, 0x44], order), regs, "{order:?}");
    }
}

#[test]
fn scale_offset_and_base_address() {
    let mut v = value(DataType::I16, ByteOrder::ABCD);
    v.scale = 0.1;
    v.offset = 2.0;
    v.address = 7;
    assert!((decode(&v, 5, &[0, 0, 0xFFF6]).expect("decodes") - 1.0).abs() < 1e-9);
    // A value before the response's base is short, not a panic.
    assert_eq!(
        decode(&v, 8, &[0; 4]),
        Err(DecodeError::Short(Quantity::ActivePower))
    );
}

#[test]
fn short_responses_and_nan_are_errors() {
    let v = value(DataType::F32, ByteOrder::ABCD);
    assert_eq!(
        decode(&v, 0, &[0x4366]),
        Err(DecodeError::Short(Quantity::ActivePower))
    );
    for regs in [[0x7FC0, 0], [0x7F80, 0], [0xFF80, 0]] {
        assert_eq!(
            decode(&v, 0, &regs),
            Err(DecodeError::NotFinite(Quantity::ActivePower))
        );
    }
}

#[test]
fn shipped_profiles_parse_and_plan_within_their_limits() {
    let profiles = Profile::builtin().expect("builtin profiles parse");
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["sdm630", "sdm120", "sdm72dm-v2", "janitza-b23"]);
    // Table: (profile, expected requests as (function, address, count)).
    let plans: [&[(u8, u16, u16)]; 4] = [
        &[(4, 0x0000, 76)],
        &[(4, 0x0000, 76)],
        &[(4, 0x0000, 76)],
        &[(3, 0x4A38, 26), (3, 0x4A7C, 10)],
    ];
    for (p, want) in profiles.iter().zip(plans) {
        let plan = p.plan();
        let got: Vec<(u8, u16, u16)> = plan.iter().map(|r| (r.function, r.address, r.count)).collect();
        assert_eq!(got, want, "{}", p.name);
        let covered: usize = plan.iter().map(|r| r.values.len()).sum();
        assert_eq!(covered, p.values.len(), "{}", p.name);
        for r in &plan {
            assert!(
                r.count <= p.max_registers && (!p.even_counts || r.count % 2 == 0),
                "{}",
                p.name
            );
        }
        // Energy is converted kWh → Wh, and 0x0156 (import + export) is never mapped.
        let import = p
            .values
            .iter()
            .find(|v| v.quantity == Quantity::EnergyImport)
            .expect("import");
        assert_eq!(import.scale, 1000.0, "{}", p.name);
        assert!(
            p.values.iter().all(|v| v.address != 0x0156 || v.function != 4),
            "{}",
            p.name
        );
        assert!(
            p.values.iter().any(|v| v.quantity == Quantity::EnergyExport),
            "{}",
            p.name
        );
    }
}

const HEAD: &str = "name = \"t\"\nmax_registers = 10\neven_counts = true\nmax_gap = 2\n[defaults]\nfunction = 4\ntype = \"f32\"\norder = \"ABCD\"\n";

#[test]
fn plan_splits_at_limits_gaps_and_function_codes() {
    let text = format!(
        "{HEAD}{}",
        r#"
        [[values]]
        quantity = "voltage_l1"
        address = 0
        unit = "V"
        [[values]]
        quantity = "voltage_l2"
        address = 4
        unit = "V"
        [[values]]
        quantity = "voltage_l3"
        address = 20
        unit = "V"
        [[values]]
        quantity = "frequency"
        address = 0
        function = 3
        unit = "Hz"
        [[values]]
        quantity = "current_l1"
        address = 8
        type = "u16"
        unit = "mA"
    "#
    );
    let p = Profile::parse("t", &text).expect("parses");
    let got: Vec<(u8, u16, u16)> = p
        .plan()
        .iter()
        .map(|r| (r.function, r.address, r.count))
        .collect();
    assert_eq!(got, [(3, 0, 2), (4, 0, 10), (4, 20, 2)]);
    assert_eq!(p.values[4].scale, 1e-3);
}

#[test]
fn register_numbers_map_to_pdu_addresses() {
    // Table: (register number, function, 0-based address).
    let cases = [
        (30_001, 4, 0x0000),
        (30_073, 4, 0x0048),
        (40_021, 3, 0x0014),
        (300_343, 4, 0x0156),
    ];
    for (n, fc, addr) in cases {
        let text = format!("{HEAD}[[values]]\nquantity = \"frequency\"\nregister = {n}\nunit = \"Hz\"\n");
        let p = Profile::parse("t", &text).expect("parses");
        assert_eq!((p.values[0].function, p.values[0].address), (fc, addr), "{n}");
    }
}

#[test]
fn bad_profiles_name_every_problem() {
    let text = "name='X'\nmax_registers=0\n[defaults]\nfunction=4\ntype='f32'\norder='ABCD'\n\
        [[values]]\nquantity='frequency'\naddress=0\nfunction=6\nunit='Hz'\n\
        [[values]]\nquantity='voltage_l1'\naddress=2\nunit='kWh'\n\
        [[values]]\nquantity='current_l1'\nregister=30007\nfunction=3\nunit='A'\n\
        [[values]]\nquantity='current_l2'\nregister=12\nunit='A'\n\
        [[values]]\nquantity='current_l3'\nunit='A'\n";
    let msg = Profile::parse("x", text).expect_err("invalid").to_string();
    for want in [
        "name \"X\"",
        "max_registers",
        "function must be 3 or 4",
        "unit \"kWh\" does not measure voltage_l1",
        "implies function 4",
        "not a 3xxxx/4xxxx",
        "current_l3: needs address",
    ] {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }
    let missing_unit = format!("{HEAD}[[values]]\nquantity = \"frequency\"\naddress = 0\n");
    assert!(
        Profile::parse("t", &missing_unit)
            .expect_err("unit is required")
            .to_string()
            .contains("unit")
    );
}

#[test]
fn user_profile_dirs_add_and_override_profiles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = format!("{HEAD}[[values]]\nquantity = \"frequency\"\nregister = 30071\nunit = \"Hz\"\n");
    std::fs::write(dir.path().join("mine.toml"), own.replace("\"t\"", "\"my-meter\"")).expect("write");
    std::fs::write(dir.path().join("fix.toml"), own.replace("\"t\"", "\"sdm120\"")).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let set = ProfileSet::load(&[dir.path().to_path_buf()]).expect("loads");
    assert!(set.names().contains(&"my-meter") && set.names().contains(&"sdm630"));
    assert_eq!(set.get("sdm120").expect("sdm120").values.len(), 1);
    assert_eq!(set.overridden.len(), 1);

    std::fs::write(
        dir.path().join("twice.toml"),
        own.replace("\"t\"", "\"my-meter\""),
    )
    .expect("write");
    std::fs::write(dir.path().join("broken.toml"), "name = ").expect("write");
    let missing = dir.path().join("nope");
    let errors = ProfileSet::load(&[dir.path().to_path_buf(), missing]).expect_err("invalid");
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains("also defined in")),
        "{errors:#?}"
    );
    assert!(errors.iter().any(|e| e.contains("broken.toml")), "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.starts_with("gateway.profile_dirs")),
        "{errors:#?}"
    );
}

fn be_bytes(t: DataType, bits: u64) -> Vec<u8> {
    let n = 2 * usize::from(t.registers());
    bits.to_be_bytes()[8 - n..].to_vec()
}

fn expected(t: DataType, bits: u64) -> f64 {
    match t {
        DataType::U16 => f64::from(bits as u16),
        DataType::I16 => f64::from(bits as u16 as i16),
        DataType::U32 => f64::from(bits as u32),
        DataType::I32 => f64::from(bits as u32 as i32),
        DataType::U64 => bits as f64,
        DataType::I64 => bits as i64 as f64,
        DataType::F32 => f64::from(f32::from_bits(bits as u32)),
        DataType::F64 => f64::from_bits(bits),
    }
}

proptest::proptest! {
    /// Decoding agrees with the independent encoder for every type, byte order and bit pattern.
    #[test]
    fn decode_inverts_encode(bits in proptest::num::u64::ANY, t in 0usize..8, o in 0usize..4) {
        let t = [DataType::U16, DataType::I16, DataType::U32, DataType::I32, DataType::U64, DataType::I64,
            DataType::F32, DataType::F64][t];
        let order = ORDERS[o];
        let want = expected(t, bits);
        let got = decode(&value(t, order), 0, &encode(&be_bytes(t, bits), order));
        if want.is_finite() {
            proptest::prop_assert_eq!(got, Ok(want));
        } else {
            proptest::prop_assert_eq!(got, Err(DecodeError::NotFinite(Quantity::ActivePower)));
        }
    }

    /// Any response, however short or garbled, decodes or errors without panicking.
    #[test]
    fn decode_never_panics(regs in proptest::collection::vec(proptest::num::u16::ANY, 0..6), base in 0u16..4) {
        for order in ORDERS {
            let _ = decode(&value(DataType::F64, order), base, &regs);
        }
    }
}
