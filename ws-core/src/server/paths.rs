//! The route patterns of one kind (WebSocket or HTTP) on one server, matched with `matchit`
//! (axum's router): a static segment outranks a `{param}`, which outranks a `{*wildcard}`.
//! Built once at start-up; one lookup per request or handshake, which allocates nothing (the
//! parameters borrow the router and the request's path).

use crate::error::Origin;

/// Patterns to values, in the order they were added.
pub(crate) struct PathTable<T> {
    router: matchit::Router<usize>,
    entries: Vec<Entry<T>>,
}

struct Entry<T> {
    pattern: &'static str,
    origin: Origin,
    value: T,
}

/// A pattern that matchit will not hold beside one already added: a request could match both
/// the same way (`/rooms/{id}` and `/rooms/{name}`).
#[derive(Debug, Clone)]
pub(crate) struct Conflict {
    /// The pattern already in the table.
    pub(crate) with: &'static str,
    /// Its registration.
    pub(crate) origin: Origin,
}

/// What a request's path matched.
pub(crate) struct Found<'r, 'p, T> {
    pub(crate) pattern: &'static str,
    pub(crate) value: &'r T,
    pub(crate) params: matchit::Params<'r, 'p>,
}

impl<T> Default for PathTable<T> {
    fn default() -> Self {
        Self {
            router: matchit::Router::new(),
            entries: Vec::new(),
        }
    }
}

impl<T> PathTable<T> {
    /// Adds `pattern`; a pattern already present is refused with its first registration, as
    /// is one that conflicts with another.
    pub(crate) fn insert(
        &mut self,
        pattern: &'static str,
        origin: Origin,
        value: T,
    ) -> Result<(), Conflict> {
        if let Some(e) = self.entries.iter().find(|e| e.pattern == pattern) {
            return Err(Conflict {
                with: e.pattern,
                origin: e.origin,
            });
        }
        match self.router.insert(pattern, self.entries.len()) {
            Ok(()) => {
                self.entries.push(Entry {
                    pattern,
                    origin,
                    value,
                });
                Ok(())
            }
            Err(e) => Err(self.conflicting(pattern, &e)),
        }
    }

    /// The registration `pattern` conflicts with: the first one that refuses it alone (matchit
    /// names the route it hit in its own spelling, which may not be a registered one).
    fn conflicting(&self, pattern: &'static str, e: &matchit::InsertError) -> Conflict {
        let alone = |other: &str| {
            let mut probe = matchit::Router::new();
            probe.insert(other, ()).is_ok() && probe.insert(pattern, ()).is_err()
        };
        let with = match e {
            matchit::InsertError::Conflict { with } => {
                self.entries.iter().find(|x| x.pattern == with)
            }
            _ => None,
        };
        match with.or_else(|| self.entries.iter().find(|x| alone(x.pattern))) {
            Some(e) => Conflict {
                with: e.pattern,
                origin: e.origin,
            },
            // ws-path has checked the syntax, so matchit refuses only conflicts; should it
            // refuse anything else, the error still names this registration's pattern.
            None => Conflict {
                with: pattern,
                origin: Origin {
                    name: "(matchit)",
                    file: "",
                    line: 0,
                },
            },
        }
    }

    /// The value registered at exactly `pattern`.
    pub(crate) fn get_mut(&mut self, pattern: &str) -> Option<&mut T> {
        let e = self.entries.iter_mut().find(|e| e.pattern == pattern)?;
        Some(&mut e.value)
    }

    /// What `path` matches, if anything.
    pub(crate) fn at<'r, 'p>(&'r self, path: &'p str) -> Option<Found<'r, 'p, T>> {
        let m = self.router.at(path).ok()?;
        let e = self.entries.get(*m.value)?;
        Some(Found {
            pattern: e.pattern,
            value: &e.value,
            params: m.params,
        })
    }

    /// The patterns and their values, in the order they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &T)> {
        self.entries.iter().map(|e| (e.pattern, &e.value))
    }

    /// The patterns, in the order they were added.
    pub(crate) fn patterns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|e| e.pattern)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(name: &'static str) -> Origin {
        Origin {
            name,
            file: "f.rs",
            line: 1,
        }
    }

    #[test]
    fn static_outranks_param_outranks_wildcard() {
        let mut t = PathTable::default();
        t.insert("/rooms/{id}", origin("param"), 1).unwrap();
        t.insert("/rooms/new", origin("static"), 2).unwrap();
        t.insert("/files/{*path}", origin("wild"), 3).unwrap();
        t.insert("/files/index", origin("index"), 4).unwrap();
        let at = |p| t.at(p).map(|f| (f.pattern, *f.value));
        assert_eq!(at("/rooms/new"), Some(("/rooms/new", 2)));
        assert_eq!(at("/rooms/7"), Some(("/rooms/{id}", 1)));
        assert_eq!(t.at("/rooms/7").unwrap().params.get("id"), Some("7"));
        assert_eq!(at("/files/index"), Some(("/files/index", 4)));
        let f = t.at("/files/a/b.txt").unwrap();
        assert_eq!(
            (f.pattern, f.params.get("path")),
            ("/files/{*path}", Some("a/b.txt"))
        );
        assert_eq!(at("/rooms"), None);
        assert_eq!(at("/rooms/7/x"), None);
        assert_eq!(at("/files/"), None);
        assert_eq!(at("/nope"), None);
    }

    #[test]
    fn conflicts_name_the_first_registration() {
        let mut t = PathTable::default();
        t.insert("/rooms/{id}", origin("first"), ()).unwrap();
        t.insert("/files/{*path}", origin("files"), ()).unwrap();
        let c = t.insert("/rooms/{name}", origin("second"), ()).unwrap_err();
        assert_eq!((c.with, c.origin.name), ("/rooms/{id}", "first"));
        let c = t.insert("/rooms/{id}", origin("again"), ()).unwrap_err();
        assert_eq!((c.with, c.origin.name), ("/rooms/{id}", "first"));
        let c = t.insert("/files/{*rest}", origin("rest"), ()).unwrap_err();
        assert_eq!((c.with, c.origin.name), ("/files/{*path}", "files"));
        // The table is unchanged by the refusals.
        assert_eq!(
            t.patterns().collect::<Vec<_>>(),
            ["/rooms/{id}", "/files/{*path}"]
        );
    }
}
