//! [`Value`]: what a config key's type decides: how a layer spells it, whether its `WS_*`
//! value is kept as a string, how it reads in a reload report. Implemented once per type.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{BrokerAddr, ConfigError, ConfigSource, OutboundPolicy};

/// A type that config keys have.
pub(crate) trait Value: Clone + PartialEq + fmt::Debug {
    /// What a layer (a TOML file, a `WS_*` variable) holds for it.
    type Raw: DeserializeOwned + fmt::Debug;
    /// A `WS_*` value is kept verbatim as a string (`true`) or parsed as a TOML number or
    /// boolean first, so that `WS_WS_PORT=9600` is a number.
    const ENV_STRING: bool;
    /// A value as TOML that differs from the default of every key of the type.
    #[cfg(test)]
    const SAMPLE: &'static str;
    /// A layer's value, checked; `key` and `source` name it in the error.
    fn from_raw(raw: Self::Raw, key: &str, source: &ConfigSource) -> Result<Self, ConfigError>;
    /// The value as text for a reload report; `None` when unset (shown as `none`).
    fn text(&self) -> Option<String>;
}

impl Value for String {
    type Raw = String;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"debug\"";
    fn from_raw(raw: String, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl Value for Option<String> {
    type Raw = String;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"sample-value\"";
    fn from_raw(raw: String, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(Some(raw))
    }
    fn text(&self) -> Option<String> {
        self.clone()
    }
}

impl Value for PathBuf {
    type Raw = PathBuf;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"sample.path\"";
    fn from_raw(raw: PathBuf, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.display().to_string())
    }
}

impl Value for Option<PathBuf> {
    type Raw = PathBuf;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"sample.path\"";
    fn from_raw(raw: PathBuf, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(Some(raw))
    }
    fn text(&self) -> Option<String> {
        self.as_ref().map(|p| p.display().to_string())
    }
}

impl Value for usize {
    type Raw = usize;
    const ENV_STRING: bool = false;
    #[cfg(test)]
    const SAMPLE: &'static str = "7";
    fn from_raw(raw: usize, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Value for u16 {
    type Raw = u16;
    const ENV_STRING: bool = false;
    #[cfg(test)]
    const SAMPLE: &'static str = "7";
    fn from_raw(raw: u16, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Written as seconds, which may be fractional (`0.5`); shown as `Debug` does (`500ms`).
impl Value for Duration {
    type Raw = f64;
    const ENV_STRING: bool = false;
    #[cfg(test)]
    const SAMPLE: &'static str = "0.25";
    fn from_raw(secs: f64, key: &str, source: &ConfigSource) -> Result<Self, ConfigError> {
        Duration::try_from_secs_f64(secs).map_err(|_| ConfigError::Invalid {
            key: key.to_owned(),
            source_name: source.clone(),
            reason: format!("{secs} is not a valid number of seconds (use 0 or more)"),
        })
    }
    fn text(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
}

impl Value for IpAddr {
    type Raw = IpAddr;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"::1\"";
    fn from_raw(raw: IpAddr, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// Unset means "decided by the registry" (`websocket`); shown as `Debug` does (`None`,
/// `Some(false)`), as reload reports always have.
impl Value for Option<bool> {
    type Raw = bool;
    const ENV_STRING: bool = false;
    #[cfg(test)]
    const SAMPLE: &'static str = "false";
    fn from_raw(raw: bool, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(Some(raw))
    }
    fn text(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
}

impl Value for bool {
    type Raw = bool;
    const ENV_STRING: bool = false;
    #[cfg(test)]
    const SAMPLE: &'static str = "false";
    fn from_raw(raw: bool, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// `local`, or the URL of a Redis server; shown with its password hidden.
impl Value for BrokerAddr {
    type Raw = String;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"redis://127.0.0.1:6390/2\"";
    fn from_raw(raw: String, key: &str, source: &ConfigSource) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw == "local" {
            return Ok(BrokerAddr::Local);
        }
        let scheme = raw.split_once("://").map(|(s, _)| s);
        match scheme {
            Some("redis" | "rediss" | "unix" | "redis+unix") => {
                Ok(BrokerAddr::Redis(raw.to_owned()))
            }
            _ => Err(ConfigError::Invalid {
                key: key.to_owned(),
                source_name: source.clone(),
                reason: format!(
                    "{:?} is not a broker: use `local` or `redis://HOST:PORT[/DB]`",
                    BrokerAddr::Redis(raw.to_owned())
                ),
            }),
        }
    }
    fn text(&self) -> Option<String> {
        Some(self.redacted())
    }
}

impl Value for OutboundPolicy {
    type Raw = OutboundPolicy;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"drop\"";
    fn from_raw(raw: OutboundPolicy, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(format!("{self:?}").to_ascii_lowercase())
    }
}

/// A list of strings: a TOML array, or one string of comma-separated items (the only way a
/// `WS_*` variable can spell a list). Shown as a TOML array.
impl Value for Vec<String> {
    type Raw = StringList;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"https://sample.example\"";
    fn from_raw(raw: StringList, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(match raw {
            StringList::List(items) => items,
            StringList::Joined(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
    fn text(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
}

/// How a layer spells a `Vec<String>`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum StringList {
    /// A TOML array of strings.
    List(Vec<String>),
    /// One string, items separated by commas.
    Joined(String),
}
