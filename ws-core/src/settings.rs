//! Middleware settings: typed `[middleware.NAME]` tables of the config that follow reloads
//! (see [`MiddlewareSettings`]), and the store that keeps one slot per table.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{ConfigError, Origin};

/// A type holding the settings of table `[middleware.NAME]`.
///
/// A middleware (or any registered type) that has settings declares them as a
/// `Deserialize` type naming its table, and takes an `#[inject]` [`Settings<T>`] field:
///
/// ```
/// use serde::Deserialize;
/// use ws_core::{middleware, Middleware, MiddlewareSettings, Rejection, RequestHead, Settings};
///
/// /// `[middleware.max_path]` in the config file.
/// #[derive(Debug, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// pub struct MaxPath {
///     /// Longest request path accepted.
///     pub len: usize,
/// }
///
/// impl Default for MaxPath {
///     fn default() -> Self {
///         Self { len: 256 }
///     }
/// }
///
/// impl MiddlewareSettings for MaxPath {
///     const NAME: &'static str = "max_path";
/// }
///
/// #[middleware(server = "ws")]
/// pub struct PathLimit {
///     #[inject]
///     settings: Settings<MaxPath>,
/// }
///
/// impl Middleware for PathLimit {
///     async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         if req.path().len() > self.settings.get().len {
///             return Err(Rejection::new(ws_core::http::StatusCode::URI_TOO_LONG, "path too long"));
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// At start-up every table is deserialized (a missing table is an empty one, so
/// `#[serde(default)]` types need none); a table that does not fit its type, or that no
/// registered type reads, stops the start naming the key and the file. A reload
/// deserializes the new tables first and applies them only if all of them fit; requests after
/// the reload see the new values through [`Settings::get`].
///
/// The whole config follows reloads the same way through [`LiveConfig`](crate::LiveConfig) (an
/// `#[inject]` field or an injected argument, like `Settings<T>`), where an injected
/// [`Config`] is a copy taken at start-up.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware settings type",
    label = "add `impl ws_core::MiddlewareSettings for {Self} {{ const NAME: &'static str = \"..\"; }}` (and derive `Deserialize`)"
)]
pub trait MiddlewareSettings: DeserializeOwned + Send + Sync + 'static {
    /// The table's name: `[middleware.NAME]`.
    const NAME: &'static str;
}

/// The current value of settings `T`: what the config says now, replaced by each reload.
///
/// Injected into an `#[inject]` field of a `#[middleware]`, `#[ws_controller]` or
/// `#[singleton]` struct, a singleton constructor's parameter, or a handler's argument. Cheap
/// to clone.
pub struct Settings<T>(Arc<Slot<T>>);

struct Slot<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Settings<T> {
    /// The settings in effect. Hold the returned value for one request, not longer: a reload
    /// replaces it.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(
            &self
                .0
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for Settings<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Settings").field(&self.get()).finish()
    }
}

/// Replaces the value of one slot; built by [`SettingsStore::prepare`], applied by
/// [`Prepared::apply`].
type Commit = Box<dyn FnOnce() + Send>;

/// A slot, with its type erased, as the store keeps it.
struct Entry {
    type_id: TypeId,
    reader: Origin,
    slot: Arc<dyn Any + Send + Sync>,
    /// Deserializes a table into a new value for the slot and returns how to swap it in.
    parse: fn(&Arc<dyn Any + Send + Sync>, &toml::Table) -> Result<Commit, String>,
}

/// Every settings table read by the app, by name.
#[derive(Default)]
pub(crate) struct SettingsStore {
    entries: Mutex<BTreeMap<&'static str, Entry>>,
}

impl fmt::Debug for SettingsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.lock();
        f.debug_set().entries(entries.keys()).finish()
    }
}

/// New values for every slot, all deserialized; nothing is applied until [`Prepared::apply`].
pub(crate) struct Prepared(Vec<Commit>);

impl Prepared {
    pub(crate) fn apply(self) {
        for commit in self.0 {
            commit();
        }
    }
}

impl SettingsStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Entry>> {
        // Entries are inserted whole, so a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot of `T`, created from `config` on first use.
    pub(crate) fn slot<T: MiddlewareSettings>(
        &self,
        config: &Config,
        origin: Origin,
    ) -> Result<Settings<T>, ConfigError> {
        let mut entries = self.lock();
        if let Some(entry) = entries.get(T::NAME) {
            if entry.type_id != TypeId::of::<T>() {
                return Err(invalid(
                    config,
                    T::NAME,
                    format!(
                        "read as two different types: by {} and by {origin} (as `{}`); \
                         give one of them another NAME",
                        entry.reader,
                        std::any::type_name::<T>()
                    ),
                ));
            }
            let slot = Arc::clone(&entry.slot)
                .downcast::<Slot<T>>()
                .map_err(|_| invalid(config, T::NAME, "internal: slot type mismatch".into()))?;
            return Ok(Settings(slot));
        }
        let value = parse::<T>(config.middleware_table(T::NAME))
            .map_err(|e| invalid(config, T::NAME, format!("{e} (read by {origin})")))?;
        let slot = Arc::new(Slot {
            current: RwLock::new(Arc::new(value)),
        });
        entries.insert(
            T::NAME,
            Entry {
                type_id: TypeId::of::<T>(),
                reader: origin,
                slot: Arc::clone(&slot) as Arc<dyn Any + Send + Sync>,
                parse: parse_erased::<T>,
            },
        );
        Ok(Settings(slot))
    }

    /// The `[middleware.NAME]` tables of `config` that nothing reads: a typo, or settings of
    /// a middleware that is not linked in.
    pub(crate) fn unread(&self, config: &Config) -> Vec<ConfigError> {
        let entries = self.lock();
        config
            .middleware
            .keys()
            .filter(|name| !entries.contains_key(name.as_str()))
            .map(|name| {
                invalid(
                    config,
                    name,
                    format!(
                        "no registered type reads this table (tables read: {})",
                        list(entries.keys().copied())
                    ),
                )
            })
            .collect()
    }

    /// Deserializes every table `new` has for the slots in use; every problem is reported.
    pub(crate) fn prepare(&self, new: &Config) -> Result<Prepared, Vec<ConfigError>> {
        let mut errors = self.unread(new);
        let mut commits = Vec::new();
        let entries = self.lock();
        for (name, entry) in entries.iter() {
            let empty = toml::Table::new();
            let table = new.middleware_table(name).unwrap_or(&empty);
            match (entry.parse)(&entry.slot, table) {
                Ok(commit) => commits.push(commit),
                Err(e) => errors.push(invalid(
                    new,
                    name,
                    format!("{e} (read by {})", entry.reader),
                )),
            }
        }
        if errors.is_empty() {
            Ok(Prepared(commits))
        } else {
            Err(errors)
        }
    }
}

fn parse<T: DeserializeOwned>(table: Option<&toml::Table>) -> Result<T, toml::de::Error> {
    T::deserialize(toml::Value::Table(table.cloned().unwrap_or_default()))
}

fn parse_erased<T: MiddlewareSettings>(
    slot: &Arc<dyn Any + Send + Sync>,
    table: &toml::Table,
) -> Result<Commit, String> {
    let slot = Arc::clone(slot)
        .downcast::<Slot<T>>()
        .map_err(|_| "internal: slot type mismatch".to_owned())?;
    let value = Arc::new(parse::<T>(Some(table)).map_err(|e| e.to_string())?);
    Ok(Box::new(move || {
        *slot.current.write().unwrap_or_else(PoisonError::into_inner) = value;
    }))
}

fn invalid(config: &Config, name: &str, reason: String) -> ConfigError {
    let key = format!("middleware.{name}");
    ConfigError::Invalid {
        source_name: config.source_of(&key),
        key,
        reason: reason.trim_end().to_owned(),
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<_> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    const ORIGIN: Origin = Origin {
        name: "tests::Reader",
        file: "settings.rs",
        line: 1,
    };

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct A {
        n: u32,
    }
    impl MiddlewareSettings for A {
        const NAME: &'static str = "shared";
    }

    #[derive(Debug, Deserialize)]
    struct B {}
    impl MiddlewareSettings for B {
        const NAME: &'static str = "shared";
    }

    #[test]
    fn one_slot_per_table_shared_by_its_readers() {
        let store = SettingsStore::default();
        let config = Config::embedded().unwrap();
        let first = store.slot::<A>(&config, ORIGIN).unwrap();
        let second = store.slot::<A>(&config, ORIGIN).unwrap();
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert_eq!(*first.get(), A { n: 0 }, "a missing table is an empty one");

        let mut new = config.clone();
        let mut table = toml::Table::new();
        table.insert("n".into(), toml::Value::Integer(5));
        new.middleware.insert("shared".into(), table);
        let prepared = store.prepare(&new).unwrap();
        assert_eq!(first.get().n, 0, "nothing applies before `apply`");
        prepared.apply();
        assert_eq!(second.get().n, 5);
    }

    #[test]
    fn two_types_for_one_table_are_refused() {
        let store = SettingsStore::default();
        let config = Config::embedded().unwrap();
        store.slot::<A>(&config, ORIGIN).unwrap();
        let err = store.slot::<B>(&config, ORIGIN).unwrap_err().to_string();
        assert!(err.contains("config key `middleware.shared`"), "{err}");
        assert!(err.contains("read as two different types"), "{err}");
    }
}
