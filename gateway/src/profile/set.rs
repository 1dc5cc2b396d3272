//! The profiles a gateway knows: the built-in ones plus every `*.toml` in the configured profile
//! directories, read at start (no rebuild needed to add a meter model).
//!
//! A user file may replace a built-in profile of the same name (to fix a register map in the field); two user
//! files with the same name are an error. Loading reports every problem at once, each naming its file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Profile;

/// Profiles by name.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Arc<Profile>>,
    /// Names of built-in profiles replaced by a user file, with that file.
    pub overridden: Vec<(String, PathBuf)>,
}

impl ProfileSet {
    /// The built-in profiles plus those in `dirs`; `Err` lists every problem.
    pub fn load(dirs: &[PathBuf]) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut set = ProfileSet::default();
        match Profile::builtin() {
            Ok(list) => {
                for p in list {
                    set.profiles.insert(p.name.clone(), Arc::new(p));
                }
            }
            Err(e) => errors.push(format!("built-in {e}")),
        }
        let mut from_user: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in dirs {
            let files = match list_toml(dir) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(format!("gateway.profile_dirs: {}: {e}", dir.display()));
                    continue;
                }
            };
            for file in files {
                let text = match std::fs::read_to_string(&file) {
                    Ok(t) => t,
                    Err(e) => {
                        errors.push(format!("{}: {e}", file.display()));
                        continue;
                    }
                };
                match Profile::parse(&file.display().to_string(), &text) {
                    Err(e) => errors.push(e.to_string()),
                    Ok(p) => {
                        if let Some(other) = from_user.insert(p.name.clone(), file.clone()) {
                            errors.push(format!(
                                "{}: profile {:?} is also defined in {}",
                                file.display(),
                                p.name,
                                other.display()
                            ));
                        } else if set.profiles.contains_key(&p.name) {
                            set.overridden.push((p.name.clone(), file.clone()));
                        }
                        set.profiles.insert(p.name.clone(), Arc::new(p));
                    }
                }
            }
        }
        if errors.is_empty() { Ok(set) } else { Err(errors) }
    }

    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Profile>> {
        self.profiles.get(name).cloned()
    }

    /// Every profile name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }
}

/// The `*.toml` files directly in `dir`, sorted so loading is deterministic.
fn list_toml(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
