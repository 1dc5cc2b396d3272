//! Decode throughput of every device MQTT adapter on realistic payloads (one message per iteration).
//! Target: ≥ 1,000,000 messages per second per core. Run: `cargo bench -p zw-gateway --bench adapters`.
//! Measured in the thread's CPU time (`bench/cpu_time.rs`), so the figure is the per-core cost even on a
//! shared machine; `Melem/cpu-s` = million messages per CPU-second.
//!
//! Three groups on the same payloads: `adapters` (the production path, the JSON scanner), `serde_reference`
//! (the serde_json decoders kept as the differential reference) and `serde_ignore_ceiling` (serde_json only
//! checking the syntax, `IgnoredAny`: what any serde_json-based adapter could reach at best).

#[path = "../../bench/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zw_gateway::adapters::{json, reference, shelly, tasmota, ttn};
use zw_model::Quantity;
use zw_model::inventory::{JsonField, SmlField};

const TASMOTA: &[u8] = br#"{"Time":"2021-12-08T20:22:23","ENERGY":{"TotalStartTime":"2021-07-09T16:56:28","Total":91.117,"Yesterday":0.386,"Today":1.274,"Period":1,"Power":87,"ApparentPower":151,"ReactivePower":124,"Factor":0.58,"Voltage":229,"Current":0.662}}"#;
const TASMOTA_3P: &[u8] = br#"{"Time":"2024-05-01T12:00:00","ENERGY":{"TotalStartTime":"2024-01-01T00:00:00","Total":1234.567,"Yesterday":12.3,"Today":4.5,"Power":[100,0,12],"ApparentPower":[120,0,15],"ReactivePower":[60,0,9],"Factor":[0.83,0,0.8],"Frequency":50,"Voltage":[230,231,229],"Current":[0.5,0,0.1]}}"#;
const TASMOTA_SML: &[u8] =
    br#"{"Time":"2024-05-01T12:00:00","SML":{"Total_in":8251.2236,"Total_out":1200.5,"Power_curr":-523}}"#;
const SHELLY_SWITCH: &[u8] = br#"{"id":0,"source":"WS_in","output":true,"apower":9.5,"voltage":237.0,"freq":50.1,"current":0.149,"aenergy":{"total":11009.330,"by_minute":[212.395,0.000,212.395],"minute_ts":1743801600},"ret_aenergy":{"total":0.000,"by_minute":[0.000,0.000,0.000],"minute_ts":1743801600},"temperature":{"tC":41.6,"tF":106.9}}"#;
const SHELLY_EM: &[u8] = br#"{"id":0,"a_current":4.029,"a_voltage":236.1,"a_act_power":951.2,"a_aprt_power":951.9,"a_pf":1,"a_freq":50,"b_current":4.02,"b_voltage":236.5,"b_act_power":-948.5,"b_aprt_power":950.9,"b_pf":1,"b_freq":50,"c_current":3.99,"c_voltage":236.8,"c_act_power":939.4,"c_aprt_power":945,"c_pf":1,"c_freq":50,"n_current":null,"total_current":12.04,"total_act_power":942.1,"total_aprt_power":2847.8,"user_calibrated_phase":[]}"#;
const SHELLY_RPC: &[u8] = br#"{"src":"shellyplugsg3-1","dst":"user_1","method":"NotifyStatus","params":{"ts":1743801660.52,"switch:0":{"id":0,"apower":120.5,"aenergy":{"by_minute":[1.0,2.0,3.0],"minute_ts":1743801660,"total":11011.5}}}}"#;
const LSE01: &[u8] = br#"{"end_device_ids":{"device_id":"lse01-garden-1","application_ids":{"application_id":"soil-app"},"dev_eui":"A84041000181AAAA","join_eui":"A840410000000101","dev_addr":"260B1234"},"correlation_ids":["as:up:01H0000000000000000000000"],"received_at":"2024-05-01T10:00:01.123456789Z","uplink_message":{"session_key_id":"AXBSH1Pk6Z0G166RlH16CQ==","f_port":2,"f_cnt":42,"frm_payload":"zikA8QelCZtuKJA=","decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},"rx_metadata":[{"gateway_ids":{"gateway_id":"gtw1","eui":"9C5C8E00001A05C4"},"time":"2024-05-01T10:00:00.987Z","timestamp":2463457000,"rssi":-85,"channel_rssi":-85,"snr":7.5,"uplink_token":"ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=","channel_index":2}],"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7}},"data_rate_index":5,"coding_rate":"4/5","frequency":"868100000"},"received_at":"2024-05-01T10:00:00.999999999Z","consumed_airtime":"0.061696s"}}"#;
const TRS21: &[u8] = br#"{"end_device_ids":{"device_id":"trs21-tree-1","application_ids":{"application_id":"soil-app"},"dev_eui":"70B3D57BA0000192"},"correlation_ids":["as:up:01H0000000000000000000001"],"received_at":"2024-05-01T10:00:01.123456789Z","uplink_message":{"f_port":1,"f_cnt":7,"frm_payload":"AgGSAAMAdYChDCU=","rx_metadata":[{"gateway_ids":{"gateway_id":"gtw1"},"rssi":-90,"snr":6}],"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":9}},"frequency":"868300000"},"received_at":"2024-05-01T10:00:00.999999999Z","consumed_airtime":"0.185344s"}}"#;
const TASMOTA_STATUS10: &[u8] = br#"{"StatusSNS":{"Time":"2021-12-08T20:22:23","ENERGY":{"TotalStartTime":"2021-07-09T16:56:28","Total":91.117,"Yesterday":0.386,"Today":1.274,"Power":87,"ApparentPower":151,"ReactivePower":124,"Factor":0.58,"Voltage":229,"Current":0.662}}}"#;
const TASMOTA_STATE: &[u8] = br#"{"Time":"2024-05-01T12:00:00","Uptime":"0T00:05:00","UptimeSec":300,"Heap":27,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"iot","BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,"Mode":"11n","RSSI":44,"Signal":-78,"LinkCount":1,"Downtime":"0T00:00:03"}}"#;
const SHELLY_EMDATA: &[u8] = br#"{"id":0,"a_total_act_energy":2776.9,"a_total_act_ret_energy":0,"b_total_act_energy":2870.3,"b_total_act_ret_energy":12.5,"c_total_act_energy":2789.2,"c_total_act_ret_energy":0,"total_act":8436.4,"total_act_ret":12.5}"#;
const SHELLY_EM1: &[u8] = br#"{"id":0,"current":2.812,"voltage":231.2,"act_power":-590.4,"aprt_power":650.1,"pf":0.91,"freq":50,"calibration":"factory"}"#;
const GENERIC: &[u8] = br#"{"ts":1714557600,"sensor":{"kwh":12.5,"w":-300,"v":230.1},"env":{"t":"21.5"}}"#;

/// One payload's decoders: the production one and, where it exists, the serde_json reference.
type Decode<'a> = Box<dyn FnMut(&[u8]) -> bool + 'a>;

fn bench(c: &mut Criterion<cpu_time::ThreadCpu>) {
    let energy = tasmota::Decoder::energy();
    let sml_fields = [
        SmlField {
            key: "Total_in".into(),
            obis: "1.8.0".into(),
            unit: None,
        },
        SmlField {
            key: "Total_out".into(),
            obis: "2.8.0".into(),
            unit: None,
        },
        SmlField {
            key: "Power_curr".into(),
            obis: "16.7.0".into(),
            unit: Some("W".into()),
        },
    ];
    let sml = tasmota::Decoder::sml("SML", &sml_fields).expect("valid mapping");
    let sml_resolved: Vec<_> = sml_fields
        .iter()
        .map(|f| {
            let (q, scale) = f.resolve().expect("valid");
            (f.key.clone(), q, scale)
        })
        .collect();
    let field = |pointer: &str, quantity, scale| JsonField {
        pointer: pointer.into(),
        quantity,
        scale,
        offset: 0.0,
        numeric_strings: false,
    };
    let fields = [
        field("/sensor/kwh", Quantity::EnergyImport, 1000.0),
        field("/sensor/w", Quantity::ActivePower, 1.0),
        field("/sensor/v", Quantity::VoltageL1, 1.0),
    ];
    let generic = json::Mapping::new(&fields, Some("/ts"));
    let generic_ref = json::ValueMapping::new(&fields, Some("/ts"));
    let lse01_frame_only = String::from_utf8_lossy(LSE01)
        .replace(r#""decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},"#, "")
        .into_bytes();
    let (mut st, mut st_ref) = (shelly::State::default(), reference::shelly::State::default());
    let mut em1 = shelly::State::new(0);
    use shelly::{Component as C, Part as P};
    let ok = |r: Result<zw_gateway::adapters::Message, zw_gateway::adapters::AdapterError>| r.is_ok();
    // name, payload, production decoder, reference decoder.
    let mut cases: Vec<(&str, &[u8], Decode<'_>, Option<Decode<'_>>)> = vec![
        (
            "tasmota_sensor",
            TASMOTA,
            Box::new(|p| ok(energy.decode(tasmota::Part::Sensor, p))),
            Some(Box::new(|p| ok(reference::tasmota::decode_sensor(p)))),
        ),
        (
            "tasmota_sensor_3phase",
            TASMOTA_3P,
            Box::new(|p| ok(energy.decode(tasmota::Part::Sensor, p))),
            Some(Box::new(|p| ok(reference::tasmota::decode_sensor(p)))),
        ),
        (
            "tasmota_sml",
            TASMOTA_SML,
            Box::new(|p| ok(sml.decode(tasmota::Part::Sensor, p))),
            Some(Box::new(|p| {
                ok(reference::tasmota::decode_sml(p, "SML", &sml_resolved))
            })),
        ),
        (
            "tasmota_status10",
            TASMOTA_STATUS10,
            Box::new(|p| ok(energy.decode(tasmota::Part::Status, p))),
            None,
        ),
        (
            "tasmota_state",
            TASMOTA_STATE,
            Box::new(|p| ok(energy.decode(tasmota::Part::State, p))),
            None,
        ),
        (
            "tasmota_lwt",
            b"Online",
            Box::new(|p| ok(energy.decode(tasmota::Part::Lwt, p))),
            None,
        ),
        (
            "shelly_switch_status",
            SHELLY_SWITCH,
            Box::new(|p| ok(st.decode(P::Status(C::Switch(0)), p))),
            Some(Box::new(|p| ok(st_ref.decode(P::Status(C::Switch(0)), p)))),
        ),
        (
            "shelly_pro3em_em",
            SHELLY_EM,
            Box::new(|p| ok(em1.decode(P::Status(C::Em), p))),
            Some(Box::new(|p| {
                ok(reference::shelly::State::default().decode(P::Status(C::Em), p))
            })),
        ),
        (
            "shelly_pro3em_emdata",
            SHELLY_EMDATA,
            Box::new(|p| ok(shelly::State::default().decode(P::Status(C::EmData), p))),
            Some(Box::new(|p| {
                ok(reference::shelly::State::default().decode(P::Status(C::EmData), p))
            })),
        ),
        (
            "shelly_em1",
            SHELLY_EM1,
            Box::new(|p| ok(shelly::State::default().decode(P::Status(C::Em1(0)), p))),
            None,
        ),
        (
            "shelly_rpc_delta",
            SHELLY_RPC,
            Box::new(|p| ok(shelly::State::default().decode(P::Rpc, p))),
            Some(Box::new(|p| {
                ok(reference::shelly::State::default().decode(P::Rpc, p))
            })),
        ),
        (
            "shelly_online",
            b"true",
            Box::new(|p| ok(shelly::State::default().decode(P::Online, p))),
            None,
        ),
        (
            "ttn_lse01_decoded",
            LSE01,
            Box::new(|p| ok(ttn::Model::Lse01.decode(p))),
            Some(Box::new(|p| ok(reference::ttn::decode(ttn::Model::Lse01, p)))),
        ),
        (
            "ttn_lse01_frame",
            &lse01_frame_only,
            Box::new(|p| ok(ttn::Model::Lse01.decode(p))),
            Some(Box::new(|p| ok(reference::ttn::decode(ttn::Model::Lse01, p)))),
        ),
        (
            "ttn_dl_trs21_frame",
            TRS21,
            Box::new(|p| ok(ttn::Model::DlTrs21.decode(p))),
            Some(Box::new(|p| ok(reference::ttn::decode(ttn::Model::DlTrs21, p)))),
        ),
        (
            "generic_json",
            GENERIC,
            Box::new(|p| ok(generic.decode(p))),
            Some(Box::new(|p| ok(generic_ref.decode(p)))),
        ),
    ];
    for (name, payload, fast, slow) in &mut cases {
        assert!(fast(payload), "{name} decodes");
        if let Some(slow) = slow {
            assert!(slow(payload), "{name} decodes (reference)");
        }
    }
    if let Some(filter) = std::env::var_os("ZW_BEST_OF") {
        best_of(&mut cases, &filter.to_string_lossy());
        return;
    }
    let mut g = c.benchmark_group("adapters");
    g.throughput(Throughput::Elements(1));
    for (name, payload, fast, _) in &mut cases {
        g.bench_function(*name, |b| b.iter(|| fast(black_box(payload))));
    }
    g.finish();
    let mut g = c.benchmark_group("serde_reference");
    g.throughput(Throughput::Elements(1));
    for (name, payload, _, slow) in &mut cases {
        if let Some(slow) = slow {
            g.bench_function(*name, |b| b.iter(|| slow(black_box(payload))));
        }
    }
    g.finish();
    // Ceilings in the same run: serde_json only checking the syntax (IgnoredAny), no values extracted.
    let mut g = c.benchmark_group("serde_ignore_ceiling");
    g.throughput(Throughput::Elements(1));
    for (name, payload, _, _) in &cases {
        if payload.first() == Some(&b'{') {
            g.bench_function(*name, |b| {
                b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(payload)).is_ok())
            });
        }
    }
    g.finish();
}

/// `ZW_BEST_OF=<name filter>`: instead of criterion, the best of 400 short batches per payload (production
/// decoder and serde_json syntax-only ceiling). On this shared, noisy machine the fastest batch is the one
/// least disturbed by other processes, so A/B comparisons of two builds need far fewer runs.
fn best_of(cases: &mut [(&str, &[u8], Decode<'_>, Option<Decode<'_>>)], filter: &str) {
    const BATCH: u32 = 1_000;
    let best = |f: &mut dyn FnMut() -> bool| {
        (0..400)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..BATCH {
                    black_box(f());
                }
                t.elapsed().as_secs_f64() / f64::from(BATCH)
            })
            .fold(f64::INFINITY, f64::min)
    };
    for (name, payload, fast, _) in cases.iter_mut().filter(|c| c.0.contains(filter)) {
        let t = best(&mut || fast(black_box(payload)));
        let ceiling =
            best(&mut || serde_json::from_slice::<serde::de::IgnoredAny>(black_box(payload)).is_ok());
        println!(
            "{name:24} {:6.1} ns {:5.2} M/s  ceiling {:5.2} M/s",
            t * 1e9,
            1e-6 / t,
            1e-6 / ceiling
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpu);
    targets = bench
}
criterion_main!(benches);
