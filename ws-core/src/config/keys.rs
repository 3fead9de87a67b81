//! Config keys, each declared once.
//!
//! [`config_keys!`] reads one declaration per key, its doc comment (with its **Default**),
//! name, type, default value and reload [`Effect`], and generates every other place that
//! names keys, so no list of keys can miss one:
//!
//! - the public struct field, with the doc comment;
//! - the field of the layer type that a TOML file or a `WS_*` variable is read into (every
//!   key optional, unknown keys rejected);
//! - the default value;
//! - [`Keys::KEYS`], the table of keys read by the `WS_<KEY>` / `WS_<SERVER>_<KEY>` lookup
//!   (and its warning for a variable that matches no key) and by a reload;
//! - copying a layer into the config ([`Keys::apply_keys`]), comparing two configs key by
//!   key for a reload, with each value as text ([`Keys::diff_keys`]), and the `Debug`
//!   fields ([`Keys::debug_keys`]), secrets redacted in both.
//!
//! A key declared without its effect does not compile. What depends on a key's *type* (how
//! a layer spells it, whether a `WS_*` value is kept as a string, how a value reads in a
//! reload report) is [`Value`] (`value.rs`), implemented once per type.

use std::fmt;

use super::value::Value;
use super::{ConfigError, ConfigSource};

/// When a changed key takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Applied by the reload: new connections and requests use the new value.
    Applied,
    /// A process-wide setting that the caller applies (`log_level`: the logger belongs to the
    /// process, not to ws-core).
    Caller,
    /// Only a restart applies it; the running app keeps the old value.
    Restart,
}

/// One declared key, as the `WS_*` lookup and a reload see it.
#[derive(Debug)]
pub(crate) struct Key {
    /// The name in TOML, e.g. `idle_timeout`.
    pub(crate) name: &'static str,
    /// A `WS_*` value is kept verbatim as a string (`true`) or parsed as a TOML number or
    /// boolean first ([`Value::ENV_STRING`] of the key's type).
    pub(crate) env_string: bool,
    /// When a changed value takes effect.
    pub(crate) effect: Effect,
    /// Shown as `<redacted>` in reload reports and in `Debug`.
    pub(crate) secret: bool,
    /// The doc comment of the field.
    #[cfg(test)]
    pub(crate) doc: &'static str,
    /// A value of the key's type that no key has as default ([`Value::SAMPLE`]).
    #[cfg(test)]
    pub(crate) sample: &'static str,
}

/// What [`config_keys!`] generates for a config struct: every key-by-key operation.
pub(crate) trait Keys: Sized {
    /// One layer of the struct: each key optional.
    type Layer;
    /// The keys, in declaration order.
    const KEYS: &'static [Key];
    /// Every key at its default (and every other field at its `Default`).
    fn defaults() -> Self;
    /// Copies the keys that `layer` sets (taking them out of it); returns their full names,
    /// `prefix` (`""` or `servers.NAME.`) followed by the key.
    fn apply_keys(
        &mut self,
        layer: &mut Self::Layer,
        prefix: &str,
        source: &ConfigSource,
    ) -> Result<Vec<String>, ConfigError>;
    /// Calls `changed` with each key whose value differs in `new`, and the old and new values
    /// as text, in declaration order; sets the keys whose effect is not
    /// [`Effect::Restart`] in `effective` to their new values.
    fn diff_keys(
        &self,
        new: &Self,
        effective: &mut Self,
        changed: impl FnMut(&'static Key, String, String),
    );
    /// Adds each key to a `Debug` output, secrets redacted.
    fn debug_keys(&self, d: &mut fmt::DebugStruct<'_, '_>);
    /// Calls `each` with every key and its value as TOML (`None` when unset), in declaration
    /// order, secrets redacted.
    fn toml_keys(&self, each: impl FnMut(&'static Key, Option<toml::Value>));
}

/// How a secret's value reads in reload reports and `Debug`.
const REDACTED: &str = "<redacted>";

/// Sets `slot` from a layer's value, if the layer has one; returns whether it did.
pub(crate) fn apply<T: Value>(
    slot: &mut T,
    raw: Option<T::Raw>,
    key: &str,
    source: &ConfigSource,
) -> Result<bool, ConfigError> {
    let Some(raw) = raw else {
        return Ok(false);
    };
    *slot = T::from_raw(raw, key, source)?;
    Ok(true)
}

/// The old and new value of `key` as text when they differ (a secret that changed from one
/// value to another reads `<redacted> -> <redacted, changed>`).
pub(crate) fn change<T: Value>(key: &Key, old: &T, new: &T) -> Option<(String, String)> {
    if old == new {
        return None;
    }
    let text = |v: &T| match v.text() {
        None => "none".to_owned(),
        Some(_) if key.secret => REDACTED.to_owned(),
        Some(text) => text,
    };
    let (from, to) = (text(old), text(new));
    if from != to {
        Some((from, to))
    } else if key.secret {
        Some((from, "<redacted, changed>".to_owned()))
    } else {
        None
    }
}

/// `value` as TOML for a listing; a secret that is set reads `"<redacted>"`.
pub(crate) fn toml_value<T: Value>(key: &Key, value: &T) -> Option<toml::Value> {
    let value = value.to_toml()?;
    Some(if key.secret {
        toml::Value::String(REDACTED.to_owned())
    } else {
        value
    })
}

/// Adds `key` to a `Debug` output; a secret reads `Some("<redacted>")` or `None`.
pub(crate) fn debug_field<T: Value>(d: &mut fmt::DebugStruct<'_, '_>, key: &Key, value: &T) {
    if key.secret {
        d.field(key.name, &value.text().map(|_| REDACTED));
    } else {
        d.field(key.name, value);
    }
}

/// Declares a config struct and its layer type from one declaration per key.
///
/// ```text
/// config_keys! {
///     /// Doc of the struct.
///     #[derive(Clone, PartialEq)]
///     pub struct Config {
///         keys {
///             /// Doc of the key. **Default**: 10 s.
///             drain_timeout: Duration = Duration::from_secs(10), reload: Applied;
///             /// Shown as `<redacted>`. **Default**: none.
///             secret_key: Option<String> = None, reload: Applied, secret;
///         }
///         /// Other fields, not keys (`Default` when the config starts).
///         pub servers: BTreeMap<ServerName, ServerConfig>,
///     }
///     /// Doc of the layer.
///     layer Layer {
///         /// Other fields of the layer, not keys.
///         #[serde(default)]
///         servers: BTreeMap<String, ServerLayer>,
///     }
/// }
/// ```
///
/// `reload:` is one of [`Effect`]'s variants; a key without it does not compile. A key whose
/// type's [`Value::SAMPLE`] is its default or not a valid value gives its own test sample
/// after its effect: `reload: Applied [sample "10"]`. Every key
/// is a `pub` field; the layer gets an `Option` of the type's [`Value::Raw`] per key, then
/// its own fields. The struct implements [`Keys`].
macro_rules! config_keys {
    (@key $key:ident: $ty:ty, $effect:ident $(, $flag:ident)? $([sample $sample:literal])?; $($doc:literal)*) => {
        $crate::config::keys::Key {
            name: stringify!($key),
            env_string: <$ty as $crate::config::value::Value>::ENV_STRING,
            effect: $crate::config::keys::Effect::$effect,
            secret: $crate::config::keys::config_keys!(@secret $($flag)?),
            #[cfg(test)]
            doc: concat!($($doc, "\n",)*),
            #[cfg(test)]
            sample: $crate::config::keys::config_keys!(@sample $ty $(, $sample)?),
        }
    };
    (@sample $ty:ty) => { <$ty as $crate::config::value::Value>::SAMPLE };
    (@sample $ty:ty, $sample:literal) => { $sample };
    (@secret) => { false };
    (@secret secret) => { true };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            keys {
                $(
                    $(#[doc = $doc:literal])*
                    $key:ident: $ty:ty = $default:expr, reload: $effect:ident $(, $flag:ident)? $([sample $sample:literal])?;
                )*
            }
            $(
                $(#[$other_meta:meta])*
                $other_vis:vis $other:ident: $other_ty:ty
            ),* $(,)?
        }
        $(#[$layer_meta:meta])*
        layer $layer:ident {
            $(
                $(#[$layer_other_meta:meta])*
                $layer_other:ident: $layer_other_ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[doc = $doc])*
                pub $key: $ty,
            )*
            $(
                $(#[$other_meta])*
                $other_vis $other: $other_ty,
            )*
        }

        $(#[$layer_meta])*
        #[derive(Debug, Default, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $layer {
            $(
                $key: Option<<$ty as $crate::config::value::Value>::Raw>,
            )*
            $(
                $(#[$layer_other_meta])*
                $layer_other: $layer_other_ty,
            )*
        }

        impl $crate::config::keys::Keys for $name {
            type Layer = $layer;

            const KEYS: &'static [$crate::config::keys::Key] = &[
                $($crate::config::keys::config_keys!(@key $key: $ty, $effect $(, $flag)? $([sample $sample])?; $($doc)*),)*
            ];

            fn defaults() -> Self {
                Self {
                    $($key: $default,)*
                    $($other: ::std::default::Default::default(),)*
                }
            }

            fn apply_keys(
                &mut self,
                layer: &mut $layer,
                prefix: &str,
                source: &$crate::config::ConfigSource,
            ) -> Result<Vec<String>, $crate::config::ConfigError> {
                let mut set = Vec::new();
                $(
                    let key = format!("{prefix}{}", stringify!($key));
                    if $crate::config::keys::apply(&mut self.$key, layer.$key.take(), &key, source)? {
                        set.push(key);
                    }
                )*
                Ok(set)
            }

            fn diff_keys(
                &self,
                new: &Self,
                effective: &mut Self,
                mut changed: impl FnMut(&'static $crate::config::keys::Key, String, String),
            ) {
                $(
                    {
                        const KEY: &$crate::config::keys::Key =
                            &$crate::config::keys::config_keys!(@key $key: $ty, $effect $(, $flag)? $([sample $sample])?; $($doc)*);
                        if let Some((from, to)) = $crate::config::keys::change(KEY, &self.$key, &new.$key) {
                            changed(KEY, from, to);
                        }
                        if KEY.effect != $crate::config::keys::Effect::Restart {
                            effective.$key = new.$key.clone();
                        }
                    }
                )*
            }

            fn toml_keys(
                &self,
                mut each: impl FnMut(&'static $crate::config::keys::Key, Option<::toml::Value>),
            ) {
                $(
                    {
                        const KEY: &$crate::config::keys::Key =
                            &$crate::config::keys::config_keys!(@key $key: $ty, $effect $(, $flag)? $([sample $sample])?; $($doc)*);
                        each(KEY, $crate::config::keys::toml_value(KEY, &self.$key));
                    }
                )*
            }

            fn debug_keys(&self, d: &mut ::std::fmt::DebugStruct<'_, '_>) {
                $(
                    $crate::config::keys::debug_field(
                        d,
                        &$crate::config::keys::config_keys!(@key $key: $ty, $effect $(, $flag)? $([sample $sample])?; $($doc)*),
                        &self.$key,
                    );
                )*
            }
        }
    };

}

pub(crate) use config_keys;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::{Config, ServerConfig};

    /// Loads the embedded default, then `toml` as a file, then `env`.
    fn load(toml: &str, env: &[(String, String)]) -> Config {
        let dir = std::env::temp_dir().join(format!(
            "ws-keys-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ws.toml");
        std::fs::write(&path, toml).unwrap();
        let out = Config::load(Some(&path), None, env.to_vec());
        let _ = std::fs::remove_dir_all(&dir);
        match out {
            Ok((config, warnings)) => {
                assert!(warnings.is_empty(), "{warnings:?}");
                config
            }
            Err(e) => panic!("{toml:?} {env:?}: {e}"),
        }
    }

    /// The changes between two values of `T`, as (key, from, to, effect); and `old` with the
    /// keys applied that a reload applies.
    fn diff<T: Keys + Clone>(old: &T, new: &T) -> (Vec<(&'static str, String, String, Effect)>, T) {
        let mut changes = Vec::new();
        let mut effective = old.clone();
        old.diff_keys(new, &mut effective, |key, from, to| {
            changes.push((key.name, from, to, key.effect));
        });
        (changes, effective)
    }

    /// `key` set to its sample in a file and in a `WS_*` variable: the two give the same
    /// value, and a reload reports exactly that key, with its declared effect, two texts
    /// that are not empty, a secret redacted, and applies it unless it needs a restart.
    fn check_key<T: Keys + Clone>(key: &Key, of: impl Fn(&Config) -> &T, file: &str, var: &str) {
        let env_value = key.sample.trim_matches('"').to_owned();
        let embedded = Config::embedded().unwrap();
        let from_file = load(file, &[]);
        let from_env = load("", &[(var.to_owned(), env_value)]);
        let (changes, effective) = diff(of(&embedded), of(&from_file));
        let [(name, from, to, effect)] = &changes[..] else {
            panic!("{}: {changes:?}", key.name);
        };
        assert_eq!(*name, key.name);
        assert_eq!(*effect, key.effect, "{name}");
        assert!(
            !from.is_empty() && !to.is_empty() && from != to,
            "{name}: {from:?} -> {to:?}"
        );
        if key.secret {
            let sample = key.sample.trim_matches('"');
            assert!(
                !from.contains(sample) && !to.contains(sample),
                "{name} not redacted"
            );
            let debug = format!("{:?}", from_file);
            assert!(
                !debug.contains(sample),
                "{name} not redacted in Debug: {debug}"
            );
        }
        let (again, _) = diff(&effective, of(&from_file));
        assert_eq!(
            again.is_empty(),
            key.effect != Effect::Restart,
            "{name}: {again:?}"
        );
        let (file_vs_env, _) = diff(of(&from_file), of(&from_env));
        assert!(
            file_vs_env.is_empty(),
            "{var} differs from the file: {file_vs_env:?}"
        );
    }

    #[test]
    fn every_key_loads_from_a_file_and_from_env_and_reloads_with_its_effect() {
        for key in Config::KEYS {
            let file = format!("{} = {}\n", key.name, key.sample);
            let var = format!("WS_{}", key.name.to_ascii_uppercase());
            check_key(key, |c| c, &file, &var);
        }
        for key in ServerConfig::KEYS {
            let file = format!("[servers.ws]\n{} = {}\n", key.name, key.sample);
            let var = format!("WS_WS_{}", key.name.to_ascii_uppercase());
            check_key(key, |c| c.server("ws").unwrap(), &file, &var);
        }
    }

    #[test]
    fn every_key_documents_its_default() {
        for key in Config::KEYS.iter().chain(ServerConfig::KEYS) {
            assert!(key.doc.contains("**Default**"), "{}: {}", key.name, key.doc);
        }
    }

    /// The rows of the first Markdown table after the line that starts with `heading`, as
    /// cells without backticks (header and separator rows skipped).
    fn table(markdown: &str, heading: &str) -> Vec<Vec<String>> {
        let rows: Vec<Vec<String>> = markdown
            .lines()
            .skip_while(|l| !l.starts_with(heading))
            .skip(1)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|cell| cell.trim().trim_matches('`').to_owned())
                    .collect()
            })
            .collect();
        assert!(!rows.is_empty(), "no table after {heading:?}");
        rows
    }

    fn same_keys(rows: &[&str], declared: &[Key], what: &str) {
        let readme: BTreeSet<&str> = rows.iter().copied().collect();
        assert_eq!(
            readme.len(),
            rows.len(),
            "README's {what} table repeats a key"
        );
        let declared: BTreeSet<&str> = declared.iter().map(|k| k.name).collect();
        assert!(
            readme == declared,
            "README's {what} table: not declared: {:?}; missing: {:?}",
            readme.difference(&declared).collect::<Vec<_>>(),
            declared.difference(&readme).collect::<Vec<_>>(),
        );
    }

    #[test]
    fn readme_tables_list_the_declared_keys() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();

        let global = table(&readme, "Global keys");
        let names: Vec<&str> = global.iter().map(|row| row[0].as_str()).collect();
        same_keys(&names, Config::KEYS, "global keys");
        for row in &global {
            assert_eq!(
                row[1],
                format!("WS_{}", row[0].to_ascii_uppercase()),
                "{row:?}"
            );
        }

        let server = table(&readme, "Per-server keys");
        let names: Vec<&str> = server.iter().map(|row| row[0].as_str()).collect();
        same_keys(&names, ServerConfig::KEYS, "per-server keys");
    }

    /// The keys named in backticks in `text`.
    fn named_keys(text: &str) -> BTreeSet<&str> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .filter(|word| crate::config::is_key_name(word))
            .collect()
    }

    #[test]
    fn readme_reload_section_names_each_key_with_its_effect() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (_, rest) = readme.split_once("What `reload` applies:").unwrap();
        let (live, rest) = rest.split_once("Everything else (").unwrap();
        let (restart, _) = rest.split_once(')').unwrap();
        let keys = || Config::KEYS.iter().chain(ServerConfig::KEYS);
        let declared = |restart: bool| -> BTreeSet<&str> {
            keys()
                .filter(|k| (k.effect == Effect::Restart) == restart)
                .map(|k| k.name)
                .collect()
        };
        assert_eq!(named_keys(live), declared(false), "applied by reload");
        assert_eq!(named_keys(restart), declared(true), "needs a restart");
    }
}
