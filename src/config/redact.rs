//! [`Config`]'s `Debug` output, with every secret replaced, so a configuration logged or put
//! in an error message never carries one.

use serde_yaml::Value;

use super::Config;
use super::settings::SETTINGS;

/// Secrets (see [`Setting::secret`](super::settings::Setting::secret)) print as
/// `<redacted>`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_yaml::to_value(self).map_err(|_| std::fmt::Error)?;
        for setting in SETTINGS.iter().filter(|setting| setting.secret) {
            let path: Vec<&str> = setting.path.split('.').collect();
            redact(&mut shown, &path);
        }
        write!(f, "Config {shown:?}")
    }
}

/// Replaces the value at `path` under `node`, if one is set.
fn redact(node: &mut Value, path: &[&str]) {
    match path.split_first() {
        None if !node.is_null() => *node = Value::String("<redacted>".into()),
        None => {}
        Some((first, rest)) => {
            if let Some(child) = node.get_mut(*first) {
                redact(child, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config = Config {
            database_url: Some("postgres://elevator:hunter2@db/elevator".into()),
            ..Default::default()
        };
        config.auth.hs256_secret = Some("s3cret-signing-key".into());
        config.webhooks.secret = Some("webhook-k3y".into());
        let shown = format!("{config:?}");
        for secret in ["hunter2", "s3cret-signing-key", "webhook-k3y"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("127.0.0.1:50051"), "{shown}");
    }
}
