//! Broker address, identity, credentials and TLS: the `[mqtt]` table of the watch
//! settings.
//!
//! Credentials come from a file or an environment variable, never from the settings
//! file itself, and are never printed: [`Secret`]'s `Debug` hides them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::MqttError;

/// A password, kept out of logs and `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The password itself, for the broker only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// TLS to the broker (needs the `tls` feature).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsTable {
    /// PEM file of the CA that signed the broker's certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that authenticate clients by certificate.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key_file: Option<PathBuf>,
}

/// The `[mqtt]` table as written: every key but `host` optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTable {
    /// Broker host name or address.
    pub host: Option<String>,
    /// Broker port (1883, or 8883 with TLS).
    pub port: Option<u16>,
    /// Fixed client id (default `edgeclip-<camera>`).
    pub client_id: Option<String>,
    /// Topic prefix (default `edgeclip`).
    pub prefix: Option<String>,
    /// Camera name in topics and Home Assistant (default `camera`).
    pub camera: Option<String>,
    /// User name for the broker.
    pub username: Option<String>,
    /// File holding the password (its first line).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Seconds between keep-alive pings (default 30).
    pub keep_alive_s: Option<u64>,
    /// Publishes waiting for PUBACK at once (default 64).
    pub window: Option<u16>,
    /// Seconds a clean stop waits for the outbox to drain (default 5).
    pub drain_s: Option<f64>,
    /// Send Home Assistant discovery configs (default true).
    pub discovery: Option<bool>,
    /// Home Assistant's discovery prefix (default `homeassistant`).
    pub discovery_prefix: Option<String>,
    /// Device name shown in Home Assistant (default `edgeclip <camera>`).
    pub device_name: Option<String>,
    /// TLS settings; the table's presence turns TLS on.
    pub tls: Option<TlsTable>,
}

/// Resolved MQTT settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Fixed client id: the broker sees one device across reconnects and restarts.
    pub client_id: String,
    /// Topic prefix.
    pub prefix: String,
    /// Camera name.
    pub camera: String,
    /// User name and password, when the broker wants them.
    pub credentials: Option<(String, Secret)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Publishes waiting for PUBACK at once.
    pub window: u16,
    /// How long a clean stop waits for the outbox to drain.
    pub drain: Duration,
    /// Home Assistant discovery prefix, or `None` for no discovery.
    pub discovery_prefix: Option<String>,
    /// Device name shown in Home Assistant.
    pub device_name: String,
    /// TLS settings, when TLS is on.
    pub tls: Option<TlsTable>,
}

impl MqttConfig {
    /// Defaults for a broker at `host:port`.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
            client_id: "edgeclip-camera".into(),
            prefix: "edgeclip".into(),
            camera: "camera".into(),
            credentials: None,
            keep_alive: Duration::from_secs(30),
            window: 64,
            drain: Duration::from_secs(5),
            discovery_prefix: Some("homeassistant".into()),
            device_name: "edgeclip camera".into(),
            tls: None,
        }
    }

    /// Resolves a settings table, reading the password from its file or variable;
    /// relative paths are taken from `base` (the settings file's folder).
    pub fn from_table(table: &MqttTable, base: &Path) -> Result<Self, MqttError> {
        let host = table
            .host
            .as_deref()
            .ok_or_else(|| MqttError::Config("mqtt.host is required".into()))?;
        let tls = table.tls.clone().map(|t| TlsTable {
            ca_file: t.ca_file.map(|p| base.join(p)),
            client_cert_file: t.client_cert_file.map(|p| base.join(p)),
            client_key_file: t.client_key_file.map(|p| base.join(p)),
        });
        let mut config = Self::new(
            host,
            table
                .port
                .unwrap_or(if tls.is_some() { 8883 } else { 1883 }),
        );
        if let Some(camera) = &table.camera {
            config.camera.clone_from(camera);
        }
        config.client_id = table
            .client_id
            .clone()
            .unwrap_or_else(|| format!("edgeclip-{}", crate::topics::slug(&config.camera)));
        config.device_name = table
            .device_name
            .clone()
            .unwrap_or_else(|| format!("edgeclip {}", config.camera));
        if let Some(prefix) = &table.prefix {
            config.prefix.clone_from(prefix);
        }
        if let Some(s) = table.keep_alive_s {
            config.keep_alive = Duration::from_secs(s);
        }
        if let Some(w) = table.window {
            config.window = w;
        }
        if let Some(s) = table.drain_s {
            config.drain = Duration::try_from_secs_f64(s)
                .map_err(|_| MqttError::Config(format!("mqtt.drain_s {s} is not a duration")))?;
        }
        if table.discovery == Some(false) {
            config.discovery_prefix = None;
        } else if let Some(p) = &table.discovery_prefix {
            config.discovery_prefix = Some(p.clone());
        }
        config.credentials = credentials(table, base)?;
        config.tls = tls;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings; the message names the key.
    pub fn validate(&self) -> Result<(), MqttError> {
        let bad = |m: &str| Err(MqttError::Config(m.to_owned()));
        if self.host.is_empty() {
            return bad("mqtt.host is empty");
        }
        if self.client_id.is_empty() || self.client_id.len() > 64 {
            return bad("mqtt.client_id must be 1 to 64 characters");
        }
        if self.prefix.is_empty() || self.prefix.contains(['+', '#']) {
            return bad("mqtt.prefix must be non-empty, without + or #");
        }
        if !(1..=1000).contains(&self.window) {
            return bad("mqtt.window must be 1 to 1000");
        }
        if self.keep_alive < Duration::from_secs(5) {
            return bad("mqtt.keep_alive_s must be at least 5");
        }
        if self.tls.is_some() && !cfg!(feature = "tls") {
            return bad("[mqtt.tls] needs a build with the `tls` feature");
        }
        Ok(())
    }
}

fn credentials(table: &MqttTable, base: &Path) -> Result<Option<(String, Secret)>, MqttError> {
    let password = match (&table.password_file, &table.password_env) {
        (Some(_), Some(_)) => {
            return Err(MqttError::Config(
                "give mqtt.password_file or mqtt.password_env, not both".into(),
            ))
        }
        (Some(file), None) => {
            let path = base.join(file);
            let limit = edgeclip_io::Limit::new("a password file", 4096);
            let text =
                edgeclip_io::read_text_limited(&path, limit).map_err(|source| MqttError::Io {
                    path: path.clone(),
                    source,
                })?;
            Some(text.lines().next().unwrap_or("").to_owned())
        }
        (None, Some(var)) => Some(
            std::env::var(var)
                .map_err(|_| MqttError::Config(format!("mqtt.password_env: ${var} is not set")))?,
        ),
        (None, None) => None,
    };
    match (&table.username, password) {
        (Some(user), password) => Ok(Some((user.clone(), Secret(password.unwrap_or_default())))),
        (None, Some(_)) => Err(MqttError::Config("a password without mqtt.username".into())),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> MqttTable {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_follow_the_camera_name() {
        let c = MqttConfig::from_table(
            &table("host = \"broker\"\ncamera = \"Front Door\""),
            Path::new("."),
        )
        .unwrap();
        assert_eq!((c.host.as_str(), c.port), ("broker", 1883));
        assert_eq!(c.client_id, "edgeclip-front_door");
        assert_eq!(c.device_name, "edgeclip Front Door");
        assert_eq!(c.discovery_prefix.as_deref(), Some("homeassistant"));
        assert!(c.credentials.is_none());
    }

    #[test]
    fn the_password_comes_from_a_file_and_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "hunter2\nignored\n").unwrap();
        let c = MqttConfig::from_table(
            &table("host = \"b\"\nusername = \"cam\"\npassword_file = \"pw\""),
            dir.path(),
        )
        .unwrap();
        let (user, secret) = c.credentials.clone().unwrap();
        assert_eq!((user.as_str(), secret.expose()), ("cam", "hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn errors_name_the_key() {
        let err = |t: &str| {
            MqttConfig::from_table(&table(t), Path::new("/nonexistent"))
                .unwrap_err()
                .to_string()
        };
        assert!(err("port = 1").contains("mqtt.host"));
        assert!(err("host = \"b\"\nwindow = 0").contains("mqtt.window"));
        assert!(
            err("host = \"b\"\npassword_env = \"EDGECLIP_TEST_UNSET_VAR\"")
                .contains("EDGECLIP_TEST_UNSET_VAR")
        );
        assert!(
            err("host = \"b\"\nusername = \"u\"\npassword_file = \"missing\"").contains("missing")
        );
    }
}
