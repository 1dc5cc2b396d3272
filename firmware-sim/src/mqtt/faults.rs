//! Faults of simulated MQTT devices on demand (`[sim.mqtt_faults]`): reboots that reset energy counters,
//! gaps in the telemetry, and malformed messages. Deterministic by message number, so tests can rely on
//! them: with `malformed_every = 5`, messages 5, 10, 15, … of every device are cut in half.

use serde::{Deserialize, Serialize};

/// When devices misbehave; 0 disables a fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttFaults {
    /// Every n-th report the device reboots first: Shelly and Tasmota energy counters restart at 0.
    pub reboot_every: u32,
    /// Every n-th report starts a gap of `gap_length` reports that are not sent.
    pub gap_every: u32,
    /// Reports skipped per gap.
    pub gap_length: u32,
    /// Every n-th report is sent malformed (its JSON cut in half).
    pub malformed_every: u32,
}

/// What to do with report number `n` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send it as is.
    Send,
    /// Do not send it (a gap).
    Skip,
    /// Send it cut in half.
    Malformed,
    /// Reset the counters, then send.
    Reboot,
}

impl MqttFaults {
    /// The fault for report `n`.
    pub fn action(&self, n: u64) -> Action {
        let hit = |every: u32| every > 0 && n.is_multiple_of(u64::from(every));
        if self.gap_every > 0
            && n >= u64::from(self.gap_every)
            && n % u64::from(self.gap_every) < u64::from(self.gap_length)
        {
            Action::Skip
        } else if hit(self.reboot_every) {
            Action::Reboot
        } else if hit(self.malformed_every) {
            Action::Malformed
        } else {
            Action::Send
        }
    }

    /// Reports every invalid setting.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.gap_every > 0 && self.gap_length >= self.gap_every {
            errors.push("sim.mqtt_faults.gap_length: must be smaller than gap_every".into());
        }
    }
}

/// The first half of a payload: never valid JSON for an object of more than one byte.
pub fn malform(payload: &str) -> String {
    let mut cut = payload.len() / 2;
    while !payload.is_char_boundary(cut) {
        cut -= 1;
    }
    payload[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_deterministic() {
        let f = MqttFaults {
            reboot_every: 7,
            gap_every: 10,
            gap_length: 2,
            malformed_every: 3,
        };
        let got: Vec<_> = (1..=12).map(|n| f.action(n)).collect();
        use Action::*;
        assert_eq!(
            got,
            [
                Send, Send, Malformed, Send, Send, Malformed, Reboot, Send, Malformed, Skip, Skip, Malformed
            ]
        );
        assert_eq!(MqttFaults::default().action(5), Send);
        assert!(serde_json::from_str::<serde_json::Value>(&malform(r#"{"a":1}"#)).is_err());
        let mut errors = Vec::new();
        MqttFaults {
            gap_every: 2,
            gap_length: 2,
            ..MqttFaults::default()
        }
        .validate(&mut errors);
        assert_eq!(errors.len(), 1);
    }
}
