//! The singleton graph: every registration's dependencies checked against what the singletons
//! provide (every missing one reported at once), the singletons ordered so each is built after
//! what it injects (cycles reported with the chain spelled out), then built.

use std::any::TypeId;
use std::collections::HashMap;

use crate::di::{Dep, Resolver, Singletons};
use crate::error::StartupError;
use crate::registry::{Registry, SingletonDef};

/// What the singletons of a registry bind: each injected type, to the index of the singleton
/// that provides it.
struct Bindings {
    index: HashMap<TypeId, usize>,
}

impl Bindings {
    /// Every type each singleton is injected as; two singletons of one type, or two providing
    /// one `dyn Trait`, are errors.
    fn of(defs: &[SingletonDef], errors: &mut Vec<StartupError>) -> Self {
        let mut index: HashMap<TypeId, usize> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            if let Some(&first) = index.get(&(d.type_id)()) {
                errors.push(StartupError::DuplicateSingleton {
                    first: defs[first].origin,
                    second: d.origin,
                });
                continue;
            }
            index.insert((d.type_id)(), i);
            for b in d.provides {
                match index.get(&(b.type_id)()) {
                    Some(&first) => errors.push(StartupError::DuplicateBinding {
                        binding: (b.type_name)(),
                        first: defs[first].origin,
                        second: d.origin,
                    }),
                    None => {
                        index.insert((b.type_id)(), i);
                    }
                }
            }
        }
        Self { index }
    }

    fn get(&self, dep: &Dep) -> Option<usize> {
        self.index.get(&(dep.type_id)()).copied()
    }
}

/// Checks the dependencies of every registration (singletons, controllers, handlers,
/// middleware, HTTP routes) against what the singletons provide, reporting every missing one
/// of every registration; then orders the singletons so that each is built after what it
/// injects, reporting cycles with the chain spelled out.
pub(crate) fn plan(registry: &Registry) -> Result<Vec<usize>, Vec<StartupError>> {
    let defs = registry.singletons;
    let mut errors = Vec::new();
    let bindings = Bindings::of(defs, &mut errors);

    let registrations = defs
        .iter()
        .map(|d| (d.origin, d.deps))
        .chain(registry.controllers.iter().map(|d| (d.origin, d.deps)))
        .chain(registry.middleware.iter().map(|d| (d.origin, d.deps)))
        .chain(registry.http_routes.iter().map(|d| (d.origin, d.deps)))
        .chain(registry.http_fallbacks.iter().map(|d| (d.origin, d.deps)));
    for (origin, deps) in registrations {
        let mut seen = Vec::new();
        for dep in deps.iter().flatten() {
            let id = (dep.type_id)();
            if bindings.get(dep).is_none() && !seen.contains(&id) {
                seen.push(id);
                errors.push(StartupError::MissingSingleton {
                    origin,
                    singleton: (dep.type_name)(),
                });
            }
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Visiting,
        Done,
    }
    struct Walk<'a> {
        defs: &'a [SingletonDef],
        bindings: &'a Bindings,
        state: Vec<State>,
        stack: Vec<usize>,
        order: Vec<usize>,
        errors: &'a mut Vec<StartupError>,
    }
    impl Walk<'_> {
        // Iterative DFS would obscure the chain; graphs are small, so recurse.
        fn visit(&mut self, i: usize) {
            match self.state[i] {
                State::Done => return,
                State::Visiting => {
                    let start = self.stack.iter().position(|&s| s == i).unwrap_or(0);
                    let mut chain: Vec<&str> = self.stack[start..]
                        .iter()
                        .map(|&s| self.defs[s].origin.name)
                        .collect();
                    chain.push(self.defs[i].origin.name);
                    self.errors.push(StartupError::SingletonCycle {
                        chain: chain.join(" -> "),
                    });
                    return;
                }
                State::New => {}
            }
            self.state[i] = State::Visiting;
            self.stack.push(i);
            let deps = self.defs[i].deps.iter().flatten();
            for j in deps.filter_map(|dep| self.bindings.get(dep)) {
                self.visit(j);
            }
            self.stack.pop();
            self.state[i] = State::Done;
            self.order.push(i);
        }
    }
    let mut walk = Walk {
        defs,
        bindings: &bindings,
        state: vec![State::New; defs.len()],
        stack: Vec::new(),
        order: Vec::with_capacity(defs.len()),
        errors: &mut errors,
    };
    // In registration order, so that reports are stable; a duplicate is never visited.
    for (i, def) in defs.iter().enumerate() {
        if bindings.index.get(&(def.type_id)()) == Some(&i) {
            walk.visit(i);
        }
    }
    let order = walk.order;
    if errors.is_empty() {
        Ok(order)
    } else {
        Err(errors)
    }
}

/// Builds the singletons in `order` (from [`plan`]), binding each under its own type and under
/// every trait object it provides. `inputs` gives the config, `Sender` and settings.
pub(crate) fn build(
    defs: &[SingletonDef],
    order: &[usize],
    inputs: Resolver<'_>,
) -> Result<Singletons, StartupError> {
    let mut singletons = Singletons::default();
    let mut errors = Vec::new();
    for &i in order {
        let def = &defs[i];
        let resolver = Resolver {
            singletons: &singletons,
            ..inputs
        };
        match (def.build)(&resolver) {
            Ok(value) => {
                for b in def.provides {
                    match (b.bind)(&*value) {
                        Some(bound) => singletons.insert((b.type_id)(), bound),
                        None => errors.push(StartupError::SingletonFailed {
                            origin: def.origin,
                            message: format!("internal: cannot bind it to `{}`", (b.type_name)()),
                        }),
                    }
                }
                singletons.insert((def.type_id)(), value);
            }
            Err(e) => errors.push(e),
        }
    }
    StartupError::collect(errors)?;
    Ok(singletons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::config::{Config, LiveConfig};
    use crate::di::{erase as singleton, provide, Binding, FromResolver, Inject};
    use crate::error::Origin;
    use crate::push::{InProcess, Sender};
    use crate::settings::SettingsStore;

    trait Shape: Send + Sync {}
    struct Square;
    struct Circle;
    impl Shape for Square {}
    impl Shape for Circle {}

    const fn origin(name: &'static str) -> Origin {
        Origin {
            name,
            file: "singletons.rs",
            line: 1,
        }
    }

    const SHAPE: Binding = Binding {
        type_id: TypeId::of::<dyn Shape>,
        type_name: std::any::type_name::<dyn Shape>,
        bind: |v| provide::<Square, dyn Shape>(v, |s| s),
    };
    const CIRCLE_SHAPE: Binding = Binding {
        bind: |v| provide::<Circle, dyn Shape>(v, |s| s),
        ..SHAPE
    };
    const NEEDS_SHAPE: &[Option<Dep>] = &[<Inject<dyn Shape> as FromResolver>::DEPENDENCY];

    static TWO_PROVIDERS: [SingletonDef; 2] = [
        SingletonDef {
            origin: origin("Square"),
            type_id: TypeId::of::<Square>,
            provides: &[SHAPE],
            deps: &[],
            build: |_| Ok(singleton(Square)),
        },
        SingletonDef {
            origin: origin("Circle"),
            type_id: TypeId::of::<Circle>,
            provides: &[CIRCLE_SHAPE],
            deps: &[],
            build: |_| Ok(singleton(Circle)),
        },
    ];

    static SELF_CYCLE: [SingletonDef; 1] = [SingletonDef {
        origin: origin("Square"),
        type_id: TypeId::of::<Square>,
        provides: &[SHAPE],
        deps: NEEDS_SHAPE,
        build: |_| Ok(singleton(Square)),
    }];

    fn registry(singletons: &'static [SingletonDef]) -> Registry {
        Registry {
            controllers: &[],
            singletons,
            middleware: &[],
            http_routes: &[],
            http_fallbacks: &[],
        }
    }

    #[test]
    fn two_providers_of_one_trait_object_are_refused() {
        let errors = plan(&registry(&TWO_PROVIDERS)).unwrap_err();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(
            text.starts_with(
                "`dyn ws_core::app::singletons::tests::Shape` is provided by two singletons"
            ),
            "{text}"
        );
        assert!(
            text.contains("`Square`") && text.contains("`Circle`"),
            "{text}"
        );
    }

    #[test]
    fn depending_on_what_one_provides_is_a_cycle() {
        let errors = plan(&registry(&SELF_CYCLE)).unwrap_err();
        let text = errors[0].to_string();
        assert!(text.contains("cycle: Square -> Square"), "{text}");
    }

    #[test]
    fn a_singleton_is_bound_under_its_type_and_what_it_provides() {
        let defs: &'static [SingletonDef] = &TWO_PROVIDERS[..1];
        let order = plan(&registry(defs)).unwrap();
        let config = Config::embedded().unwrap();
        let live = LiveConfig::new(config.clone());
        let sender = Sender::with_broker(0, Arc::new(InProcess));
        let settings = SettingsStore::default();
        let empty = Singletons::default();
        let inputs = Resolver {
            config: &config,
            live: &live,
            singletons: &empty,
            sender: &sender,
            settings: &settings,
        };
        let built = build(defs, &order, inputs).unwrap();
        let square = built.get::<Square>().unwrap();
        let shape = built.get::<dyn Shape>().unwrap();
        assert!(std::ptr::eq(
            Arc::as_ptr(&square).cast::<()>(),
            Arc::as_ptr(&shape).cast::<()>()
        ));
        assert!(built.get::<Circle>().is_none());
    }
}
