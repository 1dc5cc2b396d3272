//! Decode throughput of every device MQTT adapter on realistic payloads (one message per iteration).
//! Target: ≥ 1,000,000 messages per second per core. Run: `cargo bench -p zw-gateway --bench adapters`.
//! Measured in the thread's CPU time (`support/cpu_time.rs`), so the figure is the per-core cost even on a
//! shared machine; `Melem/cpu-s` = million messages per CPU-second.

#[path = "support/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zw_gateway::adapters::{json, shelly, tasmota, ttn};
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
const GENERIC: &[u8] = br#"{"ts":1714557600,"sensor":{"kwh":12.5,"w":-300,"v":230.1},"env":{"t":"21.5"}}"#;

fn bench(c: &mut Criterion<cpu_time::ThreadCpu>) {
    let mut g = c.benchmark_group("adapters");
    g.throughput(Throughput::Elements(1));
    let energy = tasmota::Decoder::energy();
    let sml = tasmota::Decoder::sml(
        "SML",
        &[
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
        ],
    )
    .expect("valid mapping");
    let field = |pointer: &str, quantity, scale| JsonField {
        pointer: pointer.into(),
        quantity,
        scale,
        offset: 0.0,
        numeric_strings: false,
    };
    let generic = json::Mapping::new(
        &[
            field("/sensor/kwh", Quantity::EnergyImport, 1000.0),
            field("/sensor/w", Quantity::ActivePower, 1.0),
            field("/sensor/v", Quantity::VoltageL1, 1.0),
        ],
        Some("/ts"),
    );
    g.bench_function("tasmota_sensor", |b| {
        b.iter(|| energy.decode(tasmota::Part::Sensor, black_box(TASMOTA)))
    });
    g.bench_function("tasmota_sensor_3phase", |b| {
        b.iter(|| energy.decode(tasmota::Part::Sensor, black_box(TASMOTA_3P)))
    });
    g.bench_function("tasmota_sml", |b| {
        b.iter(|| sml.decode(tasmota::Part::Sensor, black_box(TASMOTA_SML)))
    });
    g.bench_function("tasmota_lwt", |b| {
        b.iter(|| energy.decode(tasmota::Part::Lwt, black_box(b"Online")))
    });
    let mut state = shelly::State::default();
    let switch = shelly::Part::Status(shelly::Component::Switch(0));
    g.bench_function("shelly_switch_status", |b| {
        b.iter(|| state.decode(switch, black_box(SHELLY_SWITCH)))
    });
    let em = shelly::Part::Status(shelly::Component::Em);
    g.bench_function("shelly_pro3em_em", |b| {
        b.iter(|| state.decode(em, black_box(SHELLY_EM)))
    });
    g.bench_function("shelly_rpc_delta", |b| {
        b.iter(|| state.decode(shelly::Part::Rpc, black_box(SHELLY_RPC)))
    });
    g.bench_function("ttn_lse01_decoded", |b| {
        b.iter(|| ttn::Model::Lse01.decode(black_box(LSE01)))
    });
    g.bench_function("ttn_dl_trs21_frame", |b| {
        b.iter(|| ttn::Model::DlTrs21.decode(black_box(TRS21)))
    });
    g.bench_function("generic_json", |b| b.iter(|| generic.decode(black_box(GENERIC))));
    // Ceilings in the same run: only checking the JSON syntax (serde's IgnoredAny), no values extracted.
    for (name, payload) in [
        ("json_syntax_only_tasmota", TASMOTA),
        ("json_syntax_only_lse01", LSE01),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(payload)).is_ok())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpu);
    targets = bench
}
criterion_main!(benches);
