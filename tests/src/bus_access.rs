//! The test broker's accounts: the shipped ACL (`deploy/conf/mosquitto.acl`) with a password file of random
//! passwords, made the way `deploy/demo.sh` makes the demo's (plain `user:password` lines hashed in place by
//! `mosquitto_passwd -U`, so no password is ever on a command line).
//!
//! Every [`Role`] gets an account: the services' and the simulator's exactly as shipped, and a test-only
//! `zw-harness` superuser (read and write everything, `$SYS` too) for the test's own publishers and observers,
//! which exists only in the harness's copy of the ACL. Device accounts are added per stack
//! ([`crate::StackBuilder::mqtt_device_account`]) and get only the shipped device patterns.
//!
//! [`login`] finds the harness account of a broker by its port, so [`crate::mqtt::subscribe`] and
//! [`crate::mqtt::options`] need nothing but the port.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;

use crate::process::find_binary;

/// `deploy/conf/mosquitto.acl`.
pub(crate) const SHIPPED_ACL: &str = include_str!("../../deploy/conf/mosquitto.acl");
/// Default location of `mosquitto_passwd` (Debian package `mosquitto`).
const PASSWD_BIN: &str = "/usr/bin/mosquitto_passwd";
/// Environment variable that overrides [`PASSWD_BIN`].
const PASSWD_ENV: &str = "ZW_MOSQUITTO_PASSWD_BIN";
/// The test-only superuser appended to the shipped ACL.
const HARNESS_ACL: &str = "\n# Test harness only (tests/src/bus_access.rs): the tests' own publishers and observers.\n\
                           user zw-harness\ntopic readwrite #\ntopic read $SYS/#\n";

/// Whose account: a service of the shipped ACL, the simulator, the weather feed, or the test harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `zw-gateway`.
    Gateway,
    /// `zw-ingest`.
    Ingest,
    /// `zw-analytics`.
    Analytics,
    /// `zw-api`.
    Api,
    /// `zw-sim`: the device simulator (every simulated device's topics and the weather feed).
    Sim,
    /// `zw-weather`: a weather feed.
    Weather,
    /// `zw-prices`: a price feed (dynamic tariffs' prices on `zw/v1/prices/…`).
    Prices,
    /// `zw-harness`: the test-only superuser.
    Harness,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Gateway,
        Role::Ingest,
        Role::Analytics,
        Role::Api,
        Role::Sim,
        Role::Weather,
        Role::Prices,
        Role::Harness,
    ];

    /// The account's user name.
    pub fn username(self) -> &'static str {
        match self {
            Role::Gateway => "zw-gateway",
            Role::Ingest => "zw-ingest",
            Role::Analytics => "zw-analytics",
            Role::Api => "zw-api",
            Role::Sim => "zw-sim",
            Role::Weather => "zw-weather",
            Role::Prices => "zw-prices",
            Role::Harness => "zw-harness",
        }
    }

    /// The `[bus.accounts]` key of a Zählwerk service with this account, if it is one.
    pub fn service(self) -> Option<&'static str> {
        match self {
            Role::Gateway => Some("gateway"),
            Role::Ingest => Some("ingest"),
            Role::Analytics => Some("analytics"),
            Role::Api => Some("api"),
            Role::Sim => Some("sim"),
            Role::Weather | Role::Prices | Role::Harness => None,
        }
    }
}

/// An account's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttCredentials {
    /// User name.
    pub username: String,
    /// Password (random per stack).
    pub password: String,
    /// A file holding the password, for `bus.accounts.<service>.password_file`.
    pub password_file: PathBuf,
}

/// The accounts of one broker, with the files mosquitto reads.
#[derive(Debug)]
pub(crate) struct Access {
    roles: HashMap<Role, MqttCredentials>,
    devices: HashMap<String, MqttCredentials>,
    pub(crate) password_file: PathBuf,
    pub(crate) acl_file: PathBuf,
}

impl Access {
    /// Makes every role's account and one per device in `dir`: `passwd` (hashed), `acl` and
    /// `accounts/<user>.pw`.
    pub(crate) fn create(dir: &Path, devices: &[String]) -> anyhow::Result<Self> {
        let accounts = dir.join("accounts");
        std::fs::create_dir_all(&accounts)?;
        let make = |user: &str| -> anyhow::Result<MqttCredentials> {
            let password = random_password()?;
            let password_file = accounts.join(format!("{user}.pw"));
            std::fs::write(&password_file, format!("{password}\n"))?;
            Ok(MqttCredentials {
                username: user.to_owned(),
                password,
                password_file,
            })
        };
        let roles = Role::ALL
            .iter()
            .map(|r| Ok((*r, make(r.username())?)))
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let devices = devices
            .iter()
            .map(|d| {
                // As deploy/demo.sh: a name that is a topic level of its own, so the ACL's %u patterns
                // cannot reach into zw/v1/.
                anyhow::ensure!(
                    !d.is_empty() && !d.starts_with("zw") && !d.contains(['/', '+', '#', ':']),
                    "device account {d:?}: must not be empty, start with `zw` or hold / + # :"
                );
                Ok((d.clone(), make(d)?))
            })
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let password_file = dir.join("passwd");
        let lines: String = roles
            .values()
            .chain(devices.values())
            .map(|c| format!("{}:{}\n", c.username, c.password))
            .collect();
        std::fs::write(&password_file, lines)?;
        hash_in_place(&password_file)?;
        let acl_file = dir.join("acl");
        std::fs::write(&acl_file, format!("{SHIPPED_ACL}{HARNESS_ACL}"))?;
        Ok(Self {
            roles,
            devices,
            password_file,
            acl_file,
        })
    }

    /// The login of `role`.
    pub(crate) fn role(&self, role: Role) -> &MqttCredentials {
        &self.roles[&role]
    }

    /// The login of device account `name`, if the stack has one.
    pub(crate) fn device(&self, name: &str) -> Option<&MqttCredentials> {
        self.devices.get(name)
    }
}

/// Runs `mosquitto_passwd -U` on a file of `user:password` lines, replacing each password by its hash.
fn hash_in_place(file: &Path) -> anyhow::Result<()> {
    let bin = find_binary(None, PASSWD_ENV, PASSWD_BIN, "mosquitto")?;
    let out = std::process::Command::new(&bin)
        .arg("-U")
        .arg(file)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "mosquitto_passwd -U failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// 32 hex digits from the system's random source.
fn random_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The harness account of every broker started by this process, by port.
static HARNESS_LOGINS: Mutex<Option<HashMap<u16, (String, String)>>> = Mutex::new(None);

/// Remembers the harness login of the broker on `port`.
pub(crate) fn register(port: u16, access: &Access) {
    let c = access.role(Role::Harness);
    HARNESS_LOGINS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(port, (c.username.clone(), c.password.clone()));
}

/// The harness login (user name, password) of the broker this process started on `port`, if any.
pub fn login(port: u16) -> Option<(String, String)> {
    HARNESS_LOGINS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|m| m.get(&port).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_acl_gives_every_service_account_a_section_and_no_anonymous_rules() {
        let users: Vec<&str> = SHIPPED_ACL
            .lines()
            .filter_map(|l| l.strip_prefix("user "))
            .collect();
        for role in Role::ALL.iter().filter(|r| **r != Role::Harness) {
            assert!(users.contains(&role.username()), "no section for {role:?}");
        }
        assert!(!users.contains(&"zw-harness"), "the test superuser must not ship");
        // Rules before the first `user` line would apply to anonymous clients.
        let first_rule = SHIPPED_ACL
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty());
        assert_eq!(first_rule, Some("user zw-gateway"));
    }
}
