//! Decode throughput of the meter decoders on fixture telegrams (one telegram per iteration, decode plus the
//! mapping to canonical quantities). Target: ≥ 1,000,000 unencrypted telegrams per second per core.
//! Run: `cargo bench -p zw-meters --bench decode`. Measured in the thread's CPU time (`bench/cpu_time.rs`), so
//! the figure is the per-core cost even on a shared machine; `Melem/cpu-s` = million telegrams per CPU-second.
//! Group `meters` is ours; group `reference` runs m-bus-parser and sml-rs on the same bytes for comparison.

#[path = "../../bench/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zw_meters::wmbus::{self, Key};
use zw_meters::{mbus, sml};

/// Kamstrup Multical 303, wired RSP_UD, CI 72, 23 records (138 bytes).
const MBUS_KAMSTRUP: &str = "68888868083072303030302d2c400d0000000004069a00000004863c0000000004146d0f000004ff077205000004ff08ec0400000322890a0033220000000259720b025d040b02616e00022d0e00122db400023b6804123b7a0402ff22000044060000000044863c0000000044140000000044ff070000000044ff0800000000522d0000523b0000426c00006C16";
/// Engelmann SensoStar, wireless, unencrypted (CI 7A, mode 0), 11 records.
const WMBUS_SENSOSTAR: &str = "4944C5144404752100047AC10000202F2F046D142D073404068847000001FD170004138E8A4000043BF7FFFFFF042B00000000025B3E00025F360002612F0303FD0C05010002FD0B2011";
/// Elster gas (OMS example), format A with block CRCs, mode 5 AES-128-CBC, 2 blocks.
const WMBUS_AES: &str = "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B29D6D69EBF3EC8A";
/// DZG DVS7412 SML file (256 bytes, 3 messages, 5 registers).
const SML_DZG: &str = "1B1B1B1B010101017605F12CAD07620062007263010176010102310B0A01445A47000282225E7262016505E748D7620263955C007605F22CAD07620062007263070177010B0A01445A47000282225E070100620AFFFF7262016505E748D77577070100603201010172620162006200520004445A470177070100600100FF017262016200620052000B0A01445A47000282225E0177070100010800FF641C01047262016200621E52FF65033C93890177070100020800FF017262016200621E52FF650FA49A9E0177070100100700FF017262016200621B52FE538B28010101636B99007605F32CAD076200620072630201710163D90C00001B1B1B1B1A01C3E1";

fn bytes(h: &str) -> Vec<u8> {
    hex::decode(h).expect("valid hex")
}

fn bench(c: &mut Criterion<cpu_time::ThreadCpu>) {
    let key = Key::from_hex("0102030405060708090A0B0C0D0E0F11").expect("key");
    let (wired, plain, aes, sml_file) = (
        bytes(MBUS_KAMSTRUP),
        bytes(WMBUS_SENSOSTAR),
        bytes(WMBUS_AES),
        bytes(SML_DZG),
    );
    let mut g = c.benchmark_group("meters");
    g.throughput(Throughput::Elements(1));
    g.bench_function("mbus_rsp_ud_kamstrup", |b| {
        b.iter(|| mbus::decode(black_box(&wired)).map(|t| t.values().len()))
    });
    g.bench_function("wmbus_plain_sensostar", |b| {
        b.iter(|| wmbus::decode(black_box(&plain), &()).map(|t| t.values().len()))
    });
    g.bench_function("wmbus_aes_mode5_elster", |b| {
        b.iter(|| wmbus::decode(black_box(&aes), &key).map(|t| t.values().len()))
    });
    g.bench_function("sml_file_dzg", |b| {
        b.iter(|| sml::decode_file(black_box(&sml_file)).map(|r| r.values().len()))
    });
    g.finish();

    // The crates we compare with in tests/oracle.rs, on the same bytes: parse plus walking every record, no
    // canonical mapping (m-bus-parser's typed API; sml-rs' byte-wise transport and complete, allocating parser).
    let mut g = c.benchmark_group("reference");
    g.throughput(Throughput::Elements(1));
    g.bench_function("m_bus_parser_rsp_ud_kamstrup", |b| {
        b.iter(|| {
            let d = m_bus_parser::mbus_data::MbusData::<m_bus_parser::WiredFrame>::try_from(black_box(
                &wired[..],
            ));
            d.ok().and_then(|d| d.data_records).map(|r| r.count())
        })
    });
    g.bench_function("m_bus_parser_wmbus_plain_sensostar", |b| {
        b.iter(|| {
            let d = m_bus_parser::mbus_data::MbusData::<m_bus_parser::WirelessFrame>::try_from(black_box(
                &plain[..],
            ));
            d.ok().and_then(|d| d.data_records).map(|r| r.count())
        })
    });
    g.bench_function("sml_rs_complete_dzg", |b| {
        b.iter(|| {
            let mut reader = sml_rs::SmlReader::from_slice(black_box(&sml_file));
            reader
                .read::<sml_rs::parser::complete::File>()
                .map(|f| f.messages.len())
                .ok()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpu);
    targets = bench
}
criterion_main!(benches);
