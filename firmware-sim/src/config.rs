//! The simulator's configuration (`[sim]` in the config file): which devices to simulate and how often.
//!
//! [`Config::validate`] reports every problem at once, each prefixed with the path of the offending field
//! (`sim.meters[1].unit_id: …`), so a config can be fixed in one pass. [`crate::start`] refuses an invalid
//! config.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::modbus::fleet::{FleetConfig, MeterConfig, ModbusSide};
use crate::mqtt::faults::MqttFaults;
use crate::prices::PriceFeedConfig;
use crate::shelly::ShellyConfig;
use crate::weather::WeatherFeedConfig;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seed of every simulated curve and counter; the same seed gives the same values at the same time.
    pub seed: u64,
    /// Address the Modbus TCP server listens on; port 0 picks a free port (tests).
    pub modbus_listen: SocketAddr,
    /// Modbus meters (any model, see [`crate::modbus::meters`]), one per unit id and listener.
    pub meters: Vec<MeterConfig>,
    /// Many identical meters for load tests, see [`crate::modbus::fleet`].
    pub fleets: Vec<FleetConfig>,
    /// Tasmota plugs publishing `tele/<topic>/…` over MQTT.
    pub plugs: Vec<PlugConfig>,
    /// Dragino LSE01 soil sensors whose uplinks are published like The Things Stack v3 does.
    pub soil_sensors: Vec<SoilConfig>,
    /// Decentlab DL-TRS21 soil water potential sensors, uplinks published like The Things Stack v3 does.
    pub tension_sensors: Vec<SoilConfig>,
    /// Shelly plugs and Pro 3EMs publishing under their topic prefix, see [`crate::shelly`].
    pub shellies: Vec<ShellyConfig>,
    /// Reboots, gaps and malformed messages of the MQTT devices, see [`crate::mqtt::faults`].
    pub mqtt_faults: MqttFaults,
    /// How often the meters' simulated values (and so the register images) advance.
    #[serde(with = "humantime_serde")]
    pub update_interval: Duration,
    /// The `meters` start this long in the past (for the demo): their counters already hold that span's
    /// consumption when serving starts, and [`crate::start_with_history`] hands out every `history_step` of
    /// it as a register image, so a backfill of that span lines up with the live counters. Default 0; at most
    /// 31 days; not with `fleets`.
    #[serde(with = "humantime_serde")]
    pub history: Duration,
    /// Spacing of the history's steps. Default 1 min.
    #[serde(with = "humantime_serde")]
    pub history_step: Duration,
    /// A simulated weather feed (ET0 observed and forecast) for the tree forecast; none by default.
    pub weather: Option<WeatherFeedConfig>,
    /// A simulated day-ahead price series for a dynamic tariff (`zw/v1/prices/{series}`); none by default.
    pub prices: Option<PriceFeedConfig>,
    /// Wireless M-Bus heat, water and gas meters heard by a simulated receiver, see [`crate::wmbus`].
    pub wmbus_meters: Vec<crate::wmbus::WmbusMeterConfig>,
    /// Wired M-Bus meters behind simulated M-Bus/Ethernet gateways, see [`crate::mbus_tcp`].
    pub mbus_buses: Vec<crate::mbus_tcp::MbusBusConfig>,
    /// SML meters behind simulated ser2net ports, see [`crate::sml_tcp`].
    pub sml_meters: Vec<crate::sml_tcp::SmlMeterConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 42,
            modbus_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 5020)),
            meters: vec![MeterConfig::sdm630(1)],
            fleets: Vec::new(),
            plugs: vec![PlugConfig {
                topic: "plug-kitchen".into(),
                interval: default_plug_interval(),
            }],
            soil_sensors: vec![SoilConfig {
                application: "soil-app".into(),
                tenant: "ttn".into(),
                device_id: "lse01-park-1".into(),
                interval: default_soil_interval(),
            }],
            tension_sensors: Vec::new(),
            shellies: Vec::new(),
            mqtt_faults: MqttFaults::default(),
            update_interval: Duration::from_secs(1),
            history: Duration::ZERO,
            history_step: Duration::from_secs(60),
            weather: None,
            prices: None,
            wmbus_meters: Vec::new(),
            mbus_buses: Vec::new(),
            sml_meters: Vec::new(),
        }
    }
}

/// One simulated Tasmota smart plug.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlugConfig {
    /// The plug's `%topic%`; it publishes on `tele/<topic>/LWT`, `…/STATE` and `…/SENSOR`.
    pub topic: String,
    /// Telemetry period (Tasmota's TelePeriod), default 2s.
    #[serde(with = "humantime_serde", default = "default_plug_interval")]
    pub interval: Duration,
}

/// One simulated Dragino LSE01 soil sensor behind The Things Stack v3.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SoilConfig {
    /// TTS application id.
    pub application: String,
    /// TTS tenant id (`ttn` on The Things Network).
    pub tenant: String,
    /// TTS end device id.
    pub device_id: String,
    /// Uplink period, default 5s.
    #[serde(with = "humantime_serde", default = "default_soil_interval")]
    pub interval: Duration,
}

fn default_plug_interval() -> Duration {
    Duration::from_secs(2)
}

fn default_soil_interval() -> Duration {
    Duration::from_secs(5)
}

/// Shortest accepted interval; anything faster only burns CPU and floods the broker.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

impl Config {
    /// The Modbus meters and fleets with the listener and seed they need, for [`crate::modbus::fleet::plan`].
    pub fn modbus(&self) -> ModbusSide<'_> {
        ModbusSide {
            seed: self.seed,
            modbus_listen: self.modbus_listen,
            meters: &self.meters,
            fleets: &self.fleets,
        }
    }

    /// Reports every invalid setting, prefixed with `sim.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.update_interval < MIN_INTERVAL {
            errors.push("sim.update_interval: must be at least 10ms".into());
        }
        crate::modbus::fleet::plan(self.modbus(), &mut errors);
        if let Some(w) = &self.weather {
            w.validate(&mut errors);
        }
        if let Some(p) = &self.prices {
            p.validate(&mut errors);
        }
        errors.extend(self.history_problems());
        for (i, m) in self.wmbus_meters.iter().enumerate() {
            errors.extend(m.validate(&format!("sim.wmbus_meters[{i}]")));
        }
        for (i, b) in self.mbus_buses.iter().enumerate() {
            errors.extend(b.validate(&format!("sim.mbus_buses[{i}]")));
        }
        for (i, m) in self.sml_meters.iter().enumerate() {
            errors.extend(m.validate(&format!("sim.sml_meters[{i}]")));
        }
        let mut topics = HashSet::new();
        for (i, p) in self.plugs.iter().enumerate() {
            if !is_tasmota_topic(&p.topic) {
                errors.push(format!(
                    "sim.plugs[{i}].topic: {:?} must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'",
                    p.topic
                ));
            } else if !topics.insert(p.topic.as_str()) {
                errors.push(format!("sim.plugs[{i}].topic: duplicate topic {:?}", p.topic));
            }
            if p.interval < MIN_INTERVAL {
                errors.push(format!("sim.plugs[{i}].interval: must be at least 10ms"));
            }
        }
        let mut devices = HashSet::new();
        for (i, s) in self.soil_sensors.iter().enumerate() {
            for (field, value) in [
                ("application", &s.application),
                ("tenant", &s.tenant),
                ("device_id", &s.device_id),
            ] {
                if !is_tts_id(value) {
                    errors.push(format!(
                        "sim.soil_sensors[{i}].{field}: {value:?} is not a TTS id (3-36 characters of a-z, 0-9 \
                         and single '-', not at the ends)"
                    ));
                }
            }
            if !devices.insert((&s.application, &s.tenant, &s.device_id)) {
                errors.push(format!(
                    "sim.soil_sensors[{i}].device_id: duplicate device {:?}",
                    s.device_id
                ));
            }
            if s.interval < MIN_INTERVAL {
                errors.push(format!("sim.soil_sensors[{i}].interval: must be at least 10ms"));
            }
        }
        for (i, s) in self.tension_sensors.iter().enumerate() {
            if ![&s.application, &s.tenant, &s.device_id]
                .iter()
                .all(|v| is_tts_id(v))
            {
                errors.push(format!(
                    "sim.tension_sensors[{i}]: application, tenant and device_id must be TTS ids"
                ));
            }
            if !devices.insert((&s.application, &s.tenant, &s.device_id)) || s.interval < MIN_INTERVAL {
                errors.push(format!(
                    "sim.tension_sensors[{i}]: duplicate device or interval below 10ms"
                ));
            }
        }
        crate::shelly::validate(&self.shellies, &mut errors);
        self.mqtt_faults.validate(&mut errors);
        errors
    }
}

/// A Tasmota `%topic%` restricted to characters that are safe in a topic level and an MQTT client id.
fn is_tasmota_topic(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The Things Stack id syntax: `^[a-z0-9](?:[-]?[a-z0-9]){2,}$`, at most 36 characters.
fn is_tts_id(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=36).contains(&b.len())
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
        && !s.contains("--")
}

impl Config {
    /// What is wrong with `history` and `history_step`.
    fn history_problems(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.history.is_zero() {
            return errors;
        }
        if self.history > Duration::from_secs(31 * 86_400) {
            errors.push("sim.history: at most 31 days".into());
        }
        if self.history_step < Duration::from_secs(1) {
            errors.push("sim.history_step: must be at least 1s".into());
        } else if self.history.as_secs() / self.history_step.as_secs() > 100_000 {
            errors.push("sim.history_step: more than 100000 steps per meter; use a longer step".into());
        }
        if !self.fleets.is_empty() {
            errors.push("sim.history: not with fleets (it is for a few demo meters)".into());
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips_through_toml() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        let text = toml::to_string(&cfg).expect("serializes");
        let back: Config = toml::from_str(&text).expect("parses");
        assert_eq!(back, cfg);
    }

    #[test]
    fn partial_toml_uses_defaults_and_rejects_unknown_fields() {
        let cfg: Config = toml::from_str("seed = 7\n[[plugs]]\ntopic = \"p1\"\n").expect("parses");
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.plugs[0].interval, Duration::from_secs(2));
        assert_eq!(cfg.update_interval, Duration::from_secs(1));
        assert!(toml::from_str::<Config>("sead = 7").is_err());
        assert!(toml::from_str::<Config>("[[meters]]\nunit_id = 1\nspeed = 2").is_err());
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let mut cfg = Config {
            meters: [1, 1, 0].map(MeterConfig::sdm630).to_vec(),
            update_interval: Duration::ZERO,
            ..Config::default()
        };
        cfg.plugs.push(PlugConfig {
            topic: "a/b".into(),
            interval: Duration::ZERO,
        });
        cfg.soil_sensors[0].tenant = "T".into();
        let cases = [
            "sim.update_interval: must be at least 10ms",
            "sim.meters[1].unit_id: duplicate unit id 1",
            "sim.meters[2].unit_id: must be 1-247, got 0",
            "sim.plugs[1].topic: \"a/b\" must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'",
            "sim.plugs[1].interval: must be at least 10ms",
        ];
        let errors = cfg.validate();
        for expected in cases {
            assert!(
                errors.iter().any(|e| e == expected),
                "missing {expected:?} in {errors:#?}"
            );
        }
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("sim.soil_sensors[0].tenant:")),
            "{errors:#?}"
        );
        assert_eq!(errors.len(), 6, "{errors:#?}");
    }

    #[test]
    fn history_is_bounded() {
        let with = |history: u64, step: u64, fleets: bool| Config {
            history: Duration::from_secs(history),
            history_step: Duration::from_secs(step),
            fleets: if fleets {
                vec![toml::from_str("count = 1\nlisten = \"127.0.0.1:0\"").expect("fleet")]
            } else {
                Vec::new()
            },
            ..Config::default()
        };
        // Table: (history s, step s, with fleets, expected problem or none).
        let cases = [
            (2 * 86_400, 60, false, None),
            (0, 0, true, None),
            (32 * 86_400, 60, false, Some("sim.history: at most 31 days")),
            (3600, 0, false, Some("sim.history_step: must be at least 1s")),
            (
                2 * 86_400,
                1,
                false,
                Some("sim.history_step: more than 100000 steps per meter; use a longer step"),
            ),
            (
                3600,
                60,
                true,
                Some("sim.history: not with fleets (it is for a few demo meters)"),
            ),
        ];
        for (h, st, f, want) in cases {
            let got = with(h, st, f).history_problems();
            assert_eq!(
                got,
                want.map(String::from).into_iter().collect::<Vec<_>>(),
                "{h} {st} {f}"
            );
        }
    }

    #[test]
    fn tts_ids() {
        for (id, ok) in [
            ("ttn", true),
            ("lse01-park-1", true),
            ("ab", false),
            ("a--b", false),
            ("-ab", false),
        ] {
            assert_eq!(is_tts_id(id), ok, "{id}");
        }
    }
}
