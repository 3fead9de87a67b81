//! Per-room interest: a node listens on a room's channel only while it has members of the
//! room, and for a while after the last one left (so that a member who rejoins at once does
//! not cost an unsubscribe and a subscribe).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The rooms this node wants to hear, as the connection table reports them.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    /// Room → `None` while it has local members, else when the last one left.
    rooms: Mutex<HashMap<String, Option<Instant>>>,
}

impl Interest {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Instant>>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The room got its first local member (`true`) or lost its last (`false`).
    pub(crate) fn set(&self, room: &str, members: bool) {
        let mut rooms = self.lock();
        let left = (!members).then(Instant::now);
        match rooms.get_mut(room) {
            Some(state) => *state = left,
            None => {
                rooms.insert(room.to_owned(), left);
            }
        }
    }

    /// The rooms to listen on at `now`: those with members, and those left less than `linger`
    /// ago. Rooms left longer ago are forgotten.
    pub(crate) fn wanted(&self, now: Instant, linger: Duration) -> BTreeSet<String> {
        let mut rooms = self.lock();
        rooms.retain(|_, left| left.is_none_or(|t| now.saturating_duration_since(t) < linger));
        rooms.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_is_wanted_while_it_has_members_and_for_a_while_after() {
        let interest = Interest::default();
        let linger = Duration::from_secs(30);
        let t0 = Instant::now();
        interest.set("a", true);
        interest.set("b", true);
        interest.set("b", false);
        assert_eq!(
            interest.wanted(t0, linger),
            BTreeSet::from(["a".to_owned(), "b".to_owned()])
        );
        let later = t0 + Duration::from_secs(31);
        assert_eq!(
            interest.wanted(later, linger),
            BTreeSet::from(["a".to_owned()])
        );
        // Forgotten, not kept: the map holds only wanted rooms.
        interest.set("a", false);
        assert!(interest
            .wanted(later + Duration::from_secs(31), linger)
            .is_empty());
        assert!(interest.lock().is_empty());
    }
}
