//! The store's section of the whole-system config (`[store]`): where the relational store is, and whether
//! the services import the config's inventory into it at start.
//!
//! Without `url` the inventory is the config's and fixed for the life of the process (every service reads
//! `[[sites]]`, `[[trees]]`, `[[users]]` from the file). With it, each service connects and migrates at
//! start, imports the config's inventory when `import_on_start` (adds and updates, never retires; audited
//! as `import`), and then serves the store's inventory, following the change notices the admin API
//! publishes on `zw/v1/inventory/changed`.

use serde::{Deserialize, Serialize};

/// `[store]`: the relational store behind a live inventory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://<file>` (created when missing) or `postgres://<user>@<host>:<port>/<database>`; unset
    /// (the default) runs on the config's fixed inventory without a store.
    pub url: Option<String>,
    /// Import the config's inventory into the store at start (default `true`): the file stays the
    /// declarative bootstrap, while what admins add through the API is kept (nothing is retired).
    pub import_on_start: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: None,
            import_on_start: true,
        }
    }
}

impl Config {
    /// Every problem, each prefixed with its path; empty when valid:
    /// - `store.url: … must start with sqlite:// or postgres://` for another scheme (or none),
    /// - `store.url: … has no database after the scheme` for a bare `sqlite://` or `postgres://`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(url) = &self.url {
            let rest = ["sqlite://", "postgres://", "postgresql://"]
                .iter()
                .find_map(|scheme| url.strip_prefix(scheme));
            match rest {
                None => errors.push(format!(
                    "store.url: {url:?} must start with sqlite:// (a file) or postgres:// (a server)"
                )),
                Some("") => errors.push(format!("store.url: {url:?} has no database after the scheme")),
                Some(_) => {}
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(url: &str) -> Config {
        Config {
            url: Some(url.into()),
            ..Config::default()
        }
    }

    #[test]
    fn default_has_no_store_and_imports_on_start() {
        let c = Config::default();
        assert_eq!(c.url, None);
        assert!(c.import_on_start);
        assert!(c.validate().is_empty());
    }

    #[test]
    fn sqlite_and_postgres_are_accepted() {
        for url in [
            "sqlite://state/zaehlwerk.db",
            "sqlite:///var/lib/zaehlwerk/zaehlwerk.db",
            "postgres://zw@127.0.0.1:5432/zaehlwerk",
            "postgresql://zw@db/zaehlwerk",
        ] {
            assert_eq!(with(url).validate(), Vec::<String>::new(), "{url}");
        }
    }

    #[test]
    fn other_schemes_and_empty_urls_are_errors() {
        assert_eq!(
            with("mysql://db/zw").validate(),
            ["store.url: \"mysql://db/zw\" must start with sqlite:// (a file) or postgres:// (a server)"]
        );
        assert_eq!(
            with("state/zaehlwerk.db").validate().len(),
            1,
            "a bare path is not a URL"
        );
        assert_eq!(
            with("sqlite://").validate(),
            ["store.url: \"sqlite://\" has no database after the scheme"]
        );
    }

    #[test]
    fn toml_keys_and_defaults() {
        let c: Config = toml::from_str("url = \"sqlite://x.db\"").expect("parses");
        assert!(c.import_on_start, "import_on_start defaults to true");
        let c: Config = toml::from_str("import_on_start = false").expect("parses");
        assert_eq!(c.url, None);
        assert!(!c.import_on_start);
        assert!(
            toml::from_str::<Config>("uri = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }
}
