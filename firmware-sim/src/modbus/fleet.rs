//! From the `[sim]` config to the Modbus listeners to bind and the meters behind each: explicit `meters`
//! (any model, own listener or the default one, scripted faults) plus `fleets`, a compact way to declare
//! thousands of identical meters for benchmarks (`count` meters, `units_per_listener` unit ids per port on
//! consecutive ports from `listen`, a seeded `dead_ratio` of them never answering).
//!
//! Validation reports every problem with its path; a (listener, unit id) pair is served once.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::faults::{FaultConfig, FaultKind};
use super::meters::MeterModel;
use crate::curves::{hash_str, mix, unit};

/// How requests are framed on a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// Modbus TCP (MBAP header).
    #[default]
    Tcp,
    /// RTU frames with CRC over TCP, like a serial device server.
    Rtu,
}

/// One simulated Modbus meter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// Modbus unit id (slave address) the meter answers on, 1–247.
    pub unit_id: u8,
    /// The meter model (`sdm630`, `sdm120`, `sdm72dm-v2`, `janitza-b23`), default `sdm630`.
    #[serde(default)]
    pub profile: MeterModel,
    /// Its own listener instead of `modbus_listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Framing on its listener: `tcp` (Modbus TCP) or `rtu` (RTU over TCP), default `tcp`.
    #[serde(default)]
    pub framing: Framing,
    /// Scripted faults, see [`super::faults`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultConfig>,
    /// Unit ids of other `meters` wired behind this one (sub-meters): their load is part of this meter's, as
    /// a building's main meter sees its kitchen and server room. One level only; a meter is behind at most one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<u8>,
    /// Loads switching on together at a given time ([`crate::surge`]); a meter including this one sees them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub surges: Vec<crate::surge::SurgeConfig>,
}

impl MeterConfig {
    /// A well-behaved SDM630 on the default listener.
    pub fn sdm630(unit_id: u8) -> Self {
        Self {
            unit_id,
            profile: MeterModel::Sdm630,
            listen: None,
            framing: Framing::Tcp,
            faults: Vec::new(),
            includes: Vec::new(),
            surges: Vec::new(),
        }
    }
}

/// Many identical meters, for load tests.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// Model of every meter.
    #[serde(default)]
    pub profile: MeterModel,
    /// Number of meters.
    pub count: u32,
    /// First listener; further ones on the following ports (port 0: each gets a free port).
    pub listen: SocketAddr,
    /// Unit ids served per listener (1–247).
    #[serde(default = "default_units")]
    pub units_per_listener: u8,
    /// First unit id on each listener.
    #[serde(default = "one")]
    pub first_unit: u8,
    /// Framing of the listeners.
    #[serde(default)]
    pub framing: Framing,
    /// RTU framing only: simulate the RS-485 line behind each listener at this baud rate (8N1), so every
    /// frame takes its real bus time and one frame is on the line at a time. Unset: answers at once.
    #[serde(default)]
    pub baud: Option<u32>,
    /// Share of meters (chosen by seed) that never answer, 0–1.
    #[serde(default)]
    pub dead_ratio: f64,
    /// Faults applied to every meter of the fleet.
    #[serde(default)]
    pub faults: Vec<FaultConfig>,
}

fn default_units() -> u8 {
    100
}
fn one() -> u8 {
    1
}

impl FleetConfig {
    /// Whether meter `k` of fleet `fleet` is one of the dead ones (same rule as the simulator applies).
    pub fn is_dead(&self, seed: u64, fleet: usize, k: u32) -> bool {
        self.dead_ratio > 0.0 && unit(mix(seed, 0xDEAD_0000 + fleet as u64), u64::from(k)) < self.dead_ratio
    }
}

/// The Modbus side of the `[sim]` config ([`crate::Config::modbus`]): what [`plan`] expands.
#[derive(Debug, Clone, Copy)]
pub struct ModbusSide<'a> {
    /// Seed of the run; each meter's building seed derives from it.
    pub seed: u64,
    /// The default listener (Modbus TCP).
    pub modbus_listen: SocketAddr,
    /// `sim.meters`.
    pub meters: &'a [MeterConfig],
    /// `sim.fleets`.
    pub fleets: &'a [FleetConfig],
}

/// One simulated meter, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct SimMeter {
    /// Model.
    pub model: MeterModel,
    /// Unit id.
    pub unit_id: u8,
    /// Seed of its building.
    pub seed: u64,
    /// Scripted faults.
    pub faults: Vec<FaultConfig>,
    /// Seeds of the sub-meters behind it, whose load it measures too.
    pub includes: Vec<u64>,
    /// Another meter includes this one: it is a sub-meter (consumers only, no PV).
    pub sub: bool,
    /// Its surges and those of the meters it includes.
    pub surges: Vec<crate::surge::SurgeConfig>,
}

/// A listener to bind and the meters behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerPlan {
    /// Address to bind (port 0: any free port).
    pub addr: SocketAddr,
    /// Framing.
    pub framing: Framing,
    /// RTU: baud rate of the simulated RS-485 line behind the listener.
    pub baud: Option<u32>,
    /// Its meters.
    pub meters: Vec<SimMeter>,
}

/// Expands the config into listeners; the first is always `modbus_listen` (Modbus TCP). Problems go to
/// `errors`, each with its path.
pub fn plan(cfg: ModbusSide<'_>, errors: &mut Vec<String>) -> Vec<ListenerPlan> {
    let mut plans = vec![ListenerPlan {
        addr: cfg.modbus_listen,
        framing: Framing::Tcp,
        baud: None,
        meters: Vec::new(),
    }];
    // Listeners with a fixed port are shared by address; port-0 ones are distinct per fleet listener.
    let mut by_addr: HashMap<SocketAddr, usize> = HashMap::from([(cfg.modbus_listen, 0)]);
    // `fresh`: a fleet listener on port 0 always gets its own socket.
    let mut place =
        |addr: SocketAddr, framing: Framing, fresh: bool, path: &str, errors: &mut Vec<String>| -> usize {
            let i = match by_addr.get(&addr) {
                Some(&i) if !fresh => i,
                _ => {
                    plans.push(ListenerPlan {
                        addr,
                        framing,
                        baud: None,
                        meters: Vec::new(),
                    });
                    if addr.port() != 0 {
                        by_addr.insert(addr, plans.len() - 1);
                    }
                    plans.len() - 1
                }
            };
            if plans[i].framing != framing {
                errors.push(format!(
                    "{path}.framing: {addr} already serves {:?} framing",
                    plans[i].framing
                ));
            }
            i
        };
    let mut targets: Vec<(usize, SimMeter, String)> = Vec::new();
    let mut bauds: Vec<(usize, u32)> = Vec::new();
    for (i, m) in cfg.meters.iter().enumerate() {
        let path = format!("sim.meters[{i}]");
        let l = place(
            m.listen.unwrap_or(cfg.modbus_listen),
            m.framing,
            false,
            &path,
            errors,
        );
        for (j, f) in m.faults.iter().enumerate() {
            errors.extend(f.validate(&format!("{path}.faults[{j}]")));
        }
        for (j, s) in m.surges.iter().enumerate() {
            errors.extend(s.validate(&format!("{path}.surges[{j}]")));
        }
        let surges = m
            .surges
            .iter()
            .chain(
                cfg.meters
                    .iter()
                    .filter(|o| m.includes.contains(&o.unit_id))
                    .flat_map(|o| &o.surges),
            )
            .cloned()
            .collect();
        let includes = m
            .includes
            .iter()
            .enumerate()
            .filter_map(|(j, &u)| included_seed(cfg, i, u, &format!("{path}.includes[{j}]"), errors))
            .collect();
        targets.push((
            l,
            SimMeter {
                model: m.profile,
                unit_id: m.unit_id,
                seed: meter_seed(cfg, m.unit_id),
                faults: m.faults.clone(),
                includes,
                sub: cfg.meters.iter().any(|o| o.includes.contains(&m.unit_id)),
                surges,
            },
            path,
        ));
    }
    for (fi, f) in cfg.fleets.iter().enumerate() {
        let path = format!("sim.fleets[{fi}]");
        let upl = u32::from(f.units_per_listener);
        if upl == 0 || u32::from(f.first_unit) + upl - 1 > 247 || f.first_unit == 0 {
            errors.push(format!(
                "{path}.units_per_listener: unit ids {}..{} must lie in 1-247",
                f.first_unit,
                u32::from(f.first_unit) + upl
            ));
            continue;
        }
        if f.count == 0 || f.count > 100_000 {
            errors.push(format!("{path}.count: must be 1-100000, got {}", f.count));
            continue;
        }
        if !(0.0..=1.0).contains(&f.dead_ratio) {
            errors.push(format!("{path}.dead_ratio: must be 0..=1"));
        }
        match f.baud {
            Some(_) if f.framing != Framing::Rtu => {
                errors.push(format!("{path}.baud: only with framing = \"rtu\""));
            }
            Some(b) if !(300..=1_000_000).contains(&b) => {
                errors.push(format!("{path}.baud: must be 300-1000000, got {b}"));
            }
            _ => {}
        }
        let listeners = f.count.div_ceil(upl);
        if f.listen.port() != 0 && u32::from(f.listen.port()) + listeners > 65_536 {
            errors.push(format!(
                "{path}.listen: {listeners} ports from {} run past 65535",
                f.listen
            ));
            continue;
        }
        for (j, fault) in f.faults.iter().enumerate() {
            errors.extend(fault.validate(&format!("{path}.faults[{j}]")));
        }
        for li in 0..listeners {
            let mut addr = f.listen;
            if addr.port() != 0 {
                addr.set_port(f.listen.port() + li as u16);
            }
            let l = place(addr, f.framing, addr.port() == 0, &path, errors);
            if let Some(b) = f.baud {
                bauds.push((l, b));
            }
            for k in li * upl..f.count.min((li + 1) * upl) {
                let mut faults = f.faults.clone();
                if f.is_dead(cfg.seed, fi, k) {
                    faults.insert(0, FaultConfig::always(FaultKind::NoAnswer));
                }
                let unit_id = f.first_unit + (k % upl) as u8;
                let seed = mix(cfg.seed, hash_str(&format!("fleet/{fi}/{k}")));
                targets.push((
                    l,
                    SimMeter {
                        model: f.profile,
                        unit_id,
                        seed,
                        faults,
                        includes: Vec::new(),
                        sub: false,
                        surges: Vec::new(),
                    },
                    path.clone(),
                ));
            }
        }
    }
    for (l, b) in bauds {
        plans[l].baud = Some(b);
    }
    for (l, meter, path) in targets {
        if !(1..=247).contains(&meter.unit_id) {
            errors.push(format!("{path}.unit_id: must be 1-247, got {}", meter.unit_id));
        } else if plans[l].meters.iter().any(|m| m.unit_id == meter.unit_id) {
            errors.push(format!("{path}.unit_id: duplicate unit id {}", meter.unit_id));
        } else {
            plans[l].meters.push(meter);
        }
    }
    plans
}

/// The seed of a configured meter's building.
fn meter_seed(cfg: ModbusSide<'_>, unit_id: u8) -> u64 {
    mix(cfg.seed, 0x5D63_0000 + u64::from(unit_id))
}

/// The seed of the meter `unit` that `sim.meters[main]` includes, or `None` with the problem in `errors`.
fn included_seed(
    cfg: ModbusSide<'_>,
    main: usize,
    unit: u8,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<u64> {
    let found: Vec<usize> = (0..cfg.meters.len())
        .filter(|&k| cfg.meters[k].unit_id == unit)
        .collect();
    let problem = match found[..] {
        [] => Some(format!("{path}: no meter with unit id {unit}")),
        [k] if k == main => Some(format!("{path}: a meter cannot include itself")),
        [k] if !cfg.meters[k].includes.is_empty() => Some(format!(
            "{path}: unit {unit} includes meters itself (one level only)"
        )),
        [k] if cfg
            .meters
            .iter()
            .enumerate()
            .any(|(o, m)| o != main && o != k && m.includes.contains(&unit)) =>
        {
            Some(format!("{path}: unit {unit} is included by another meter too"))
        }
        [_] => None,
        _ => Some(format!(
            "{path}: unit id {unit} is ambiguous (several meters use it)"
        )),
    };
    match problem {
        Some(p) => {
            errors.push(p);
            None
        }
        None => Some(meter_seed(cfg, unit)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    /// The Modbus side of the default `[sim]` config (seed 42, port 5020) with `meters` and `fleets`.
    fn side<'a>(meters: &'a [MeterConfig], fleets: &'a [FleetConfig]) -> ModbusSide<'a> {
        ModbusSide {
            seed: 42,
            modbus_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 5020)),
            meters,
            fleets,
        }
    }

    fn fleet(toml_text: &str) -> Result<FleetConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn baud_goes_to_rtu_listeners_and_is_validated() -> Result<(), Box<dyn std::error::Error>> {
        let fleets = vec![fleet(
            "count = 4\nlisten = \"127.0.0.1:0\"\nunits_per_listener = 2\nframing = \"rtu\"\nbaud = 9600",
        )?];
        // The default config's meter stays on the default listener.
        let default = [MeterConfig::sdm630(1)];
        let mut errors = Vec::new();
        let plans = plan(side(&default, &fleets), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let rtu: Vec<_> = plans.iter().filter(|p| p.framing == Framing::Rtu).collect();
        assert_eq!(rtu.len(), 2);
        assert!(rtu.iter().all(|p| p.baud == Some(9600) && p.meters.len() == 2));
        assert_eq!(plans[0].baud, None, "the default TCP listener has no line");

        let fleets = vec![
            fleet("count = 1\nlisten = \"127.0.0.1:0\"\nbaud = 9600")?,
            fleet("count = 1\nlisten = \"127.0.0.1:0\"\nframing = \"rtu\"\nbaud = 10")?,
        ];
        let mut errors = Vec::new();
        plan(side(&default, &fleets), &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("sim.fleets[0].baud: only with framing"));
        assert!(errors[1].contains("sim.fleets[1].baud: must be 300-1000000"));
        Ok(())
    }

    #[test]
    fn includes_resolve_to_sub_meter_seeds_and_bad_ones_are_named() {
        let m = |unit: u8, includes: &[u8]| MeterConfig {
            includes: includes.to_vec(),
            ..MeterConfig::sdm630(unit)
        };
        let meters = vec![m(1, &[3, 4]), m(2, &[]), m(3, &[]), m(4, &[])];
        let cfg = side(&meters, &[]);
        let mut errors = Vec::new();
        let plans = plan(cfg, &mut errors);
        assert_eq!(errors, Vec::<String>::new());
        let main = plans[0].meters.iter().find(|x| x.unit_id == 1).expect("unit 1");
        assert_eq!(main.includes, [meter_seed(cfg, 3), meter_seed(cfg, 4)]);
        assert!(
            plans[0]
                .meters
                .iter()
                .filter(|x| x.unit_id != 1)
                .all(|x| x.includes.is_empty())
        );
        // Table: (meters, expected error).
        let cases: [(Vec<MeterConfig>, &str); 4] = [
            (
                vec![m(1, &[9])],
                "sim.meters[0].includes[0]: no meter with unit id 9",
            ),
            (
                vec![m(1, &[1])],
                "sim.meters[0].includes[0]: a meter cannot include itself",
            ),
            (
                vec![m(1, &[2]), m(2, &[3]), m(3, &[])],
                "sim.meters[0].includes[0]: unit 2 includes meters itself (one level only)",
            ),
            (
                vec![m(1, &[3]), m(2, &[3]), m(3, &[])],
                "sim.meters[0].includes[0]: unit 3 is included by another meter too",
            ),
        ];
        for (meters, want) in cases {
            let mut errors = Vec::new();
            plan(side(&meters, &[]), &mut errors);
            assert!(errors.iter().any(|e| e == want), "{want:?} not in {errors:?}");
        }
    }
}
