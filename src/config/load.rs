//! Reading the layers: the defaults, then the YAML file, then each `ELEVATOR_*` variable set,
//! merged as YAML so a variable overrides exactly the setting it names. Errors name the layer
//! and the setting to fix.

use std::path::Path;

use serde_yaml::Value;

use super::Config;
use super::settings::{SETTINGS, Setting, VariableKind};

impl Config {
    /// Defaults, then `file` (if any), then the environment as read by `env`.
    pub(crate) fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut layered = match file {
            Some(path) => read_file_layer(path)?,
            None => Value::Mapping(Default::default()),
        };
        if layered.is_null() {
            layered = Value::Mapping(Default::default());
        }
        for setting in SETTINGS {
            let Some(text) = env(setting.env) else {
                continue;
            };
            let value = variable_value(setting, text)?;
            // Check the variable alone first, so an error names the variable, not the layers.
            let mut alone = Value::Mapping(Default::default());
            set_path(&mut alone, setting.path, value.clone());
            serde_yaml::from_value::<Config>(alone)
                .map_err(|error| format!("{}: {error}", setting.env))?;
            set_path(&mut layered, setting.path, value);
        }
        let origin = file.map_or_else(
            || "configuration".to_owned(),
            |path| format!("config file {}", path.display()),
        );
        serde_yaml::from_value(layered).map_err(|error| format!("{origin}: {error}"))
    }

    /// Defaults, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        Self::load_with(file, |name| std::env::var(name).ok())
    }
}

/// The configuration file, as YAML not yet typed.
fn read_file_layer(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("reading config file {}: {error}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|error| format!("config file {}: {error}", path.display()))
}

/// The YAML value an environment variable's `text` stands for, read as its setting's kind says.
fn variable_value(setting: &Setting, text: String) -> Result<Value, String> {
    Ok(match setting.kind {
        VariableKind::Text => Value::String(text),
        VariableKind::Number => Value::Number(
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("{}: {text:?} is not a whole number", setting.env))?
                .into(),
        ),
        VariableKind::Flag => Value::Bool(match text.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(format!("{}: {text:?} is not true or false", setting.env)),
        }),
        VariableKind::List => Value::Sequence(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        VariableKind::Fraction => {
            let fraction: f64 = text
                .trim()
                .parse()
                .ok()
                .filter(|f: &f64| (0.0..=1.0).contains(f))
                .ok_or_else(|| format!("{}: {text:?} is not a number from 0 to 1", setting.env))?;
            Value::Number(fraction.into())
        }
    })
}

/// Sets the setting at the dot-separated `path` in `root` to `value`, making the mappings on
/// the way (and replacing whatever else is on the way with one).
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        if !node.is_mapping() {
            *node = Value::Mapping(Default::default());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping just above");
        };
        let key = Value::String((*part).to_owned());
        if index == parts.len() - 1 {
            map.insert(key, value);
            return;
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("elevator-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.yaml");
        std::fs::write(
            &file,
            "listen: 0.0.0.0:6000\nauth: { leeway_seconds: 10, issuer: corp }\n",
        )
        .unwrap();
        let config = Config::load_with(Some(&file), |name| match name {
            "ELEVATOR_AUTH_LEEWAY_SECONDS" => Some("20".into()),
            "ELEVATOR_CACHE_TTL_SECONDS" => Some("7".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.auth.issuer.as_deref(), Some("corp"));
        assert_eq!(config.auth.leeway_seconds, 20);
        assert_eq!(config.cache.ttl_seconds, 7);
        assert_eq!(config.cache.max_subjects, 1_000_000);
        assert!(config.dev_mode());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let error = Config::load_with(None, |name| {
            (name == "ELEVATOR_SWEEP_INTERVAL_MS").then(|| "soon".into())
        })
        .unwrap_err();
        assert!(error.contains("ELEVATOR_SWEEP_INTERVAL_MS"));
        let error = Config::load_with(None, |name| {
            (name == "ELEVATOR_LISTEN").then(|| "nowhere".into())
        })
        .unwrap_err();
        assert!(error.contains("ELEVATOR_LISTEN"), "{error}");
    }
}
