//! The singleton graph: every `#[singleton]` built once at start-up, in dependency order, with
//! missing dependencies and cycles reported with the chain spelled out.

use std::any::TypeId;
use std::collections::HashMap;

use crate::config::Config;
use crate::di::{Resolver, Singletons};
use crate::error::StartupError;
use crate::push::Sender;
use crate::registry::SingletonDef;
use crate::settings::SettingsStore;

/// Builds singletons in dependency order; reports missing dependencies and cycles with the
/// chain spelled out.
pub(crate) fn build(
    defs: &[SingletonDef],
    config: &Config,
    sender: &Sender,
    settings: &SettingsStore,
) -> Result<Singletons, StartupError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Visiting,
        Done,
    }
    let mut errors = Vec::new();
    let mut index: HashMap<TypeId, usize> = HashMap::new();
    for (i, d) in defs.iter().enumerate() {
        if let Some(&first) = index.get(&(d.type_id)()) {
            errors.push(StartupError::DuplicateSingleton {
                first: defs[first].origin,
                second: d.origin,
            });
        } else {
            index.insert((d.type_id)(), i);
        }
    }
    let mut order = Vec::with_capacity(defs.len());
    let mut state = vec![State::New; defs.len()];

    // Iterative DFS would obscure the chain; graphs are small, so recurse.
    fn visit(
        i: usize,
        defs: &[SingletonDef],
        index: &HashMap<TypeId, usize>,
        state: &mut [State],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
        errors: &mut Vec<StartupError>,
    ) {
        match state[i] {
            State::Done => return,
            State::Visiting => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut chain: Vec<&str> = stack[start..]
                    .iter()
                    .map(|&s| defs[s].origin.name)
                    .collect();
                chain.push(defs[i].origin.name);
                errors.push(StartupError::SingletonCycle {
                    chain: chain.join(" -> "),
                });
                return;
            }
            State::New => {}
        }
        state[i] = State::Visiting;
        stack.push(i);
        for dep in defs[i].deps.iter().flatten() {
            match index.get(&(dep.type_id)()) {
                Some(&j) => visit(j, defs, index, state, stack, order, errors),
                None => errors.push(StartupError::MissingSingleton {
                    origin: defs[i].origin,
                    singleton: (dep.type_name)(),
                }),
            }
        }
        stack.pop();
        state[i] = State::Done;
        order.push(i);
    }

    for &i in index.values() {
        let mut stack = Vec::new();
        visit(
            i,
            defs,
            &index,
            &mut state,
            &mut stack,
            &mut order,
            &mut errors,
        );
    }
    StartupError::collect(errors)?;

    let mut singletons = Singletons::default();
    let mut errors = Vec::new();
    for i in order {
        let def = &defs[i];
        let resolver = Resolver {
            config,
            singletons: &singletons,
            sender,
            settings,
        };
        match (def.build)(&resolver) {
            Ok(value) => singletons.insert((def.type_id)(), value),
            Err(e) => errors.push(e),
        }
    }
    StartupError::collect(errors)?;
    Ok(singletons)
}
