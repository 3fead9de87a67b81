//! [`Value`]: what a config key's type decides: how a layer spells it, whether its `WS_*`
//! value is kept as a string, how it reads in a reload report. Implemented once per type.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{BrokerAddr, CertFiles, ConfigError, ConfigSource, LogFormat, OutboundPolicy};

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
    /// The value as a layer would spell it in TOML (`ws-cli config`); `None` when unset.
    fn to_toml(&self) -> Option<toml::Value>;
}

/// A count as a TOML integer (a text past `i64::MAX`, which no config holds).
fn integer(n: impl TryInto<i64> + ToString + Copy) -> toml::Value {
    n.try_into()
        .map_or_else(|_| toml::Value::String(n.to_string()), toml::Value::Integer)
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::String(self.clone()))
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
    fn to_toml(&self) -> Option<toml::Value> {
        self.clone().map(toml::Value::String)
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::String(self.display().to_string()))
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
    fn to_toml(&self) -> Option<toml::Value> {
        self.as_ref()
            .map(|p| toml::Value::String(p.display().to_string()))
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(integer(*self))
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(integer(*self))
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
    fn to_toml(&self) -> Option<toml::Value> {
        // Whole seconds as an integer (`10`), others as a float (`0.5`): both load back.
        Some(if self.subsec_nanos() == 0 {
            integer(self.as_secs())
        } else {
            toml::Value::Float(self.as_secs_f64())
        })
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::String(self.to_string()))
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::Boolean(*self))
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
    fn to_toml(&self) -> Option<toml::Value> {
        self.map(toml::Value::Boolean)
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::String(self.redacted()))
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
    fn to_toml(&self) -> Option<toml::Value> {
        self.text().map(toml::Value::String)
    }
}

impl Value for LogFormat {
    type Raw = LogFormat;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"json\"";
    fn from_raw(raw: LogFormat, _: &str, _: &ConfigSource) -> Result<Self, ConfigError> {
        Ok(raw)
    }
    fn text(&self) -> Option<String> {
        Some(format!("{self:?}").to_ascii_lowercase())
    }
    fn to_toml(&self) -> Option<toml::Value> {
        self.text().map(toml::Value::String)
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
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::Array(
            self.iter().cloned().map(toml::Value::String).collect(),
        ))
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

/// Certificates with their keys: a TOML array of `{ cert, key }` tables or `"CERT:KEY"`
/// strings, or one string of comma-separated `CERT:KEY` items (how a `WS_*` variable spells
/// it). Shown as a TOML array of tables.
impl Value for Vec<CertFiles> {
    type Raw = CertList;
    const ENV_STRING: bool = true;
    #[cfg(test)]
    const SAMPLE: &'static str = "\"sample.pem:sample.key\"";
    fn from_raw(raw: CertList, key: &str, source: &ConfigSource) -> Result<Self, ConfigError> {
        let items = match raw {
            CertList::List(items) => items,
            CertList::Joined(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| CertItem::Pair(item.to_owned()))
                .collect(),
        };
        items
            .into_iter()
            .map(|item| match item {
                CertItem::Files(files) => Ok(files),
                CertItem::Pair(pair) => match pair.split_once(':') {
                    Some((cert, key)) if !cert.trim().is_empty() && !key.trim().is_empty() => {
                        Ok(CertFiles {
                            cert: cert.trim().into(),
                            key: key.trim().into(),
                        })
                    }
                    _ => Err(ConfigError::Invalid {
                        key: key.to_owned(),
                        source_name: source.clone(),
                        reason: format!(
                            "{pair:?} is not a certificate and its key: write \
                             `CERT:KEY` (two PEM files) or `{{ cert = \"...\", key = \"...\" }}`"
                        ),
                    }),
                },
            })
            .collect()
    }
    fn text(&self) -> Option<String> {
        let items: Vec<String> = self
            .iter()
            .map(|c| format!("{}:{}", c.cert.display(), c.key.display()))
            .collect();
        Some(format!("{items:?}"))
    }
    fn to_toml(&self) -> Option<toml::Value> {
        Some(toml::Value::Array(
            self.iter()
                .map(|c| {
                    let mut table = toml::Table::new();
                    table.insert("cert".into(), c.cert.display().to_string().into());
                    table.insert("key".into(), c.key.display().to_string().into());
                    toml::Value::Table(table)
                })
                .collect(),
        ))
    }
}

/// How a layer spells a `Vec<CertFiles>`: an array, or one string of `CERT:KEY` items
/// separated by commas. (Deserialized by hand: serde's untagged enums would answer a mistake
/// with "data did not match any variant".)
#[derive(Debug)]
pub(crate) enum CertList {
    /// A TOML array.
    List(Vec<CertItem>),
    /// One string.
    Joined(String),
}

/// One item of a TOML array of certificates.
#[derive(Debug)]
pub(crate) enum CertItem {
    /// `{ cert = "...", key = "..." }`.
    Files(CertFiles),
    /// `"CERT:KEY"`.
    Pair(String),
}

impl<'de> Deserialize<'de> for CertList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CertList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of `{ cert = \"...\", key = \"...\" }` or `\"CERT:KEY\"`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CertList, E> {
                Ok(CertList::Joined(text.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CertList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(CertList::List(items))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for CertItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = CertItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`{ cert = \"...\", key = \"...\" }` or `\"CERT:KEY\"`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CertItem, E> {
                Ok(CertItem::Pair(text.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<CertItem, A::Error> {
                CertFiles::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(CertItem::Files)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
