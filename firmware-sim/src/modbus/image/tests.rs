//! Unit tests of register images and the image service.

use super::*;

const LIMITS: ReadLimits = ReadLimits {
    max_registers: 80,
    even_only: true,
};

#[test]
fn floats_are_big_endian_high_word_first() {
    // Fixture bytes from the SDM630 reference (Python struct.pack('>f')).
    let cases: [(f32, [u16; 2]); 6] = [
        (230.1, [0x4366, 0x199A]),
        (5.25, [0x40A8, 0x0000]),
        (1207.5, [0x4496, 0xF000]),
        (50.0, [0x4248, 0x0000]),
        (12345.678, [0x4640, 0xE6B6]),
        (0.98, [0x3F7A, 0xE148]),
    ];
    for (value, regs) in cases {
        let mut img = RegisterImage::new(0x0180, LIMITS);
        img.set_f32(0x0048, value);
        assert_eq!(img.read(0x0048, 2), Ok(regs.to_vec()), "{value}");
        assert_eq!(img.get_f32(0x0048), Some(value));
    }
}

#[test]
fn limits_are_enforced_like_the_meter() {
    let img = RegisterImage::new(0x0180, LIMITS);
    let cases = [
        (0x0000, 76, None),
        (0x0000, 80, None),
        (0x0156, 2, None),
        (0x017E, 2, None),
        (0x0000, 81, Some(ExceptionCode::IllegalDataValue)),
        (0x0000, 82, Some(ExceptionCode::IllegalDataValue)),
        (0x0000, 3, Some(ExceptionCode::IllegalDataValue)),
        (0x0000, 0, Some(ExceptionCode::IllegalDataValue)),
        (0x0001, 2, Some(ExceptionCode::IllegalDataAddress)),
        (0x0180, 2, Some(ExceptionCode::IllegalDataAddress)),
        (0x0170, 80, Some(ExceptionCode::IllegalDataAddress)),
        (0xFFFE, 80, Some(ExceptionCode::IllegalDataAddress)),
    ];
    for (addr, count, err) in cases {
        let got = img.read(addr, count);
        match err {
            None => assert_eq!(
                got.map(|r| r.len()),
                Ok(usize::from(count)),
                "{addr:#06x} x{count}"
            ),
            Some(e) => assert_eq!(got, Err(e), "{addr:#06x} x{count}"),
        }
    }
}

#[test]
fn service_routes_by_unit_and_function() {
    let mut img = RegisterImage::new(0x0180, LIMITS);
    img.set_f32(0, 230.1);
    let svc = ImageService::new(HashMap::from([(1, Arc::new(RwLock::new(img)))]));
    let req = |slave, request| SlaveRequest { slave, request };
    let cases = [
        (
            1,
            Request::ReadInputRegisters(0, 2),
            Ok(Some(Response::ReadInputRegisters(vec![0x4366, 0x199A]))),
        ),
        (
            1,
            Request::ReadInputRegisters(0, 81),
            Err(ExceptionCode::IllegalDataValue),
        ),
        (
            1,
            Request::ReadHoldingRegisters(0, 2),
            Err(ExceptionCode::IllegalFunction),
        ),
        (
            2,
            Request::ReadInputRegisters(0, 2),
            Err(ExceptionCode::GatewayTargetDevice),
        ),
        (0, Request::ReadInputRegisters(0, 2), Ok(None)),
    ];
    for (slave, request, expected) in cases {
        assert_eq!(
            svc.answer(req(slave, request.clone())),
            expected,
            "unit {slave} {request:?}"
        );
    }
}
