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

#[test]
fn decodes_datasheet_fixtures() {
    // float32 big-endian fixtures from the Eastron register map.
    let cases: [([u16; 2], f64); 4] = [
        ([0x4366, 0x199A], 230.1),
        ([0x40A8, 0x0000], 5.25),
        ([0x4496, 0xF000], 1207.5),
        ([0x4640, 0xE6B6], 12345.678),
    ];
    for (regs, want) in cases {
        let got = decode(&value(DataType::F32, ByteOrder::ABCD), 0, &regs).expect("decodes");
        assert!((got - want).abs() < 1e-3, "{regs:04X?}: {got} != {want}");
    }
}

#[test]
fn every_byte_order_of_a_u32() {
    // 0x11223344 laid out in each order.
    let cases = [
        (ByteOrder::ABCD, [0x1122, 0x3344]),
        (ByteOrder::CDAB, [0x3344, 0x1122]),
        (ByteOrder::BADC, [0x2211, 0x4433]),
        (ByteOrder::DCBA, [0x4433, 0x2211]),
    ];
    for (order, regs) in cases {
        assert_eq!(
            decode(&value(DataType::U32, order), 0, &regs),
            Ok(f64::from(0x1122_3344u32)),
            "{order:?}"
        );
    }
}

#[test]
fn signed_types_and_scale() {
    let mut v = value(DataType::I16, ByteOrder::ABCD);
    v.scale = 0.1;
    assert!((decode(&v, 0, &[0xFFF6]).expect("decodes") + 1.0).abs() < 1e-9);
    assert_eq!(
        decode(&value(DataType::I32, ByteOrder::ABCD), 0, &[0xFFFF, 0xFFFE]),
        Ok(-2.0)
    );
    assert_eq!(
        decode(&value(DataType::I64, ByteOrder::ABCD), 0, &[0xFFFF; 4]),
        Ok(-1.0)
    );
    assert_eq!(
        decode(&value(DataType::F64, ByteOrder::ABCD), 0, &[0x4059, 0, 0, 0]),
        Ok(100.0)
    );
}

#[test]
fn short_responses_and_nan_are_errors() {
    let v = value(DataType::F32, ByteOrder::ABCD);
    assert_eq!(
        decode(&v, 0, &[0x4366]),
        Err(DecodeError::Short(Quantity::ActivePower))
    );
    assert_eq!(
        decode(&v, 0, &[0x7FC0, 0]),
        Err(DecodeError::NotFinite(Quantity::ActivePower))
    );
}

#[test]
fn sdm630_plan_respects_the_80_register_limit() {
    let p = Profile::builtin().expect("builtin profiles parse").remove(0);
    let plan = p.plan();
    // 0x0000..0x004C fits in one even request of 76 registers.
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!((plan[0].address, plan[0].count), (0, 76));
    assert_eq!(plan[0].values.len(), p.values.len());
    for r in &plan {
        assert!(r.count <= p.max_registers && r.count % 2 == 0);
    }
}

#[test]
fn plan_splits_at_limits_gaps_and_function_codes() {
    let text = r#"
        name = "t"
        max_registers = 10
        even_counts = true
        max_gap = 2
        [defaults]
        function = 4
        type = "f32"
        order = "ABCD"
        [[values]]
        quantity = "voltage_l1"
        address = 0
        [[values]]
        quantity = "voltage_l2"
        address = 4
        [[values]]
        quantity = "voltage_l3"
        address = 20
        [[values]]
        quantity = "frequency"
        address = 0
        function = 3
        [[values]]
        quantity = "current_l1"
        address = 8
        type = "u16"
    "#;
    let p = Profile::parse("t", text).expect("parses");
    let got: Vec<(u8, u16, u16)> = p
        .plan()
        .iter()
        .map(|r| (r.function, r.address, r.count))
        .collect();
    assert_eq!(got, [(3, 0, 2), (4, 0, 10), (4, 20, 2)]);
}

#[test]
fn bad_profiles_name_the_problem() {
    let err = Profile::parse("x", "name='x'\nmax_registers=0\n[defaults]\nfunction=4\ntype='f32'\norder='ABCD'\n[[values]]\nquantity='frequency'\naddress=0\nfunction=6\n")
        .expect_err("invalid");
    let msg = err.to_string();
    assert!(
        msg.contains("max_registers") && msg.contains("function must be 3 or 4"),
        "{msg}"
    );
}

proptest::proptest! {
    /// Decoding agrees with an independent encoder for every type and byte order.
    #[test]
    fn decode_inverts_encode(x in proptest::num::f32::NORMAL, o in 0usize..4) {
        let order = [ByteOrder::ABCD, ByteOrder::DCBA, ByteOrder::BADC, ByteOrder::CDAB][o];
        let be = x.to_be_bytes();
        let laid: [u8; 4] = match order {
            ByteOrder::ABCD => be,
            ByteOrder::DCBA => [be[3], be[2], be[1], be[0]],
            ByteOrder::BADC => [be[1], be[0], be[3], be[2]],
            ByteOrder::CDAB => [be[2], be[3], be[0], be[1]],
        };
        let regs = [u16::from_be_bytes([laid[0], laid[1]]), u16::from_be_bytes([laid[2], laid[3]])];
        proptest::prop_assert_eq!(decode(&value(DataType::F32, order), 0, &regs), Ok(f64::from(x)));
    }
}
