//! The participant identities our inbound calls hold in each room. LiveKit removes a
//! participant when another joins the room with its identity (DUPLICATE_IDENTITY), and an
//! inbound caller's identity is `sip_<number>`: a second call from the same number into the
//! same room (a company's switchboard, every caller with a withheld number) would evict the
//! first. The first call keeps the identity; a later one, while it lasts, gets the first of
//! `<identity>_2`, `<identity>_3`, … that no call of ours holds (the number stays in
//! `sip.phoneNumber`).
//!
//! Only this bridge's calls are known: in cluster mode a call on another node with the same
//! identity in the same room is not.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type Key = (String, String);

/// The identities held, by room; cheap to clone, shared by every call.
#[derive(Debug, Clone, Default)]
pub struct Identities(Arc<Mutex<HashSet<Key>>>);

/// An identity held in a room until this is dropped (the call ended).
#[derive(Debug)]
pub struct IdentityClaim {
    identities: Identities,
    key: Key,
}

impl Identities {
    /// `wanted` in `room` if none of our calls holds it there, else the first free
    /// `<wanted>_<n>`, n from 2.
    pub fn claim(&self, room: &str, wanted: &str) -> IdentityClaim {
        let mut held = self.held();
        let free = |identity: &str| !held.contains(&(room.to_owned(), identity.to_owned()));
        let identity = if free(wanted) {
            wanted.to_owned()
        } else {
            // Terminates: the set is finite.
            (2u64..)
                .map(|n| format!("{wanted}_{n}"))
                .find(|candidate| free(candidate))
                .unwrap_or_else(|| wanted.to_owned())
        };
        let key = (room.to_owned(), identity);
        held.insert(key.clone());
        IdentityClaim {
            identities: self.clone(),
            key,
        }
    }

    fn held(&self) -> MutexGuard<'_, HashSet<Key>> {
        // Every change is one insert or remove: the set stays consistent whatever panicked.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl IdentityClaim {
    pub fn identity(&self) -> &str {
        &self.key.1
    }
}

impl Drop for IdentityClaim {
    fn drop(&mut self) {
        self.identities.held().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_caller_into_the_same_room_gets_an_identity_of_its_own() {
        let identities = Identities::default();
        let first = identities.claim("switchboard", "sip_+15550100");
        let second = identities.claim("switchboard", "sip_+15550100");
        let third = identities.claim("switchboard", "sip_+15550100");
        assert_eq!(first.identity(), "sip_+15550100");
        assert_eq!(second.identity(), "sip_+15550100_2");
        assert_eq!(third.identity(), "sip_+15550100_3");
        // Another room, or another number: no clash.
        assert_eq!(
            identities.claim("other", "sip_+15550100").identity(),
            "sip_+15550100"
        );
        assert_eq!(
            identities.claim("switchboard", "sip_+15550199").identity(),
            "sip_+15550199"
        );
    }

    #[test]
    fn an_identity_is_free_again_once_its_call_ended() {
        let identities = Identities::default();
        let first = identities.claim("room", "sip_anonymous");
        let second = identities.claim("room", "sip_anonymous");
        drop(first);
        // The plain identity is free again; the second call keeps its own.
        let third = identities.claim("room", "sip_anonymous");
        assert_eq!(third.identity(), "sip_anonymous");
        assert_eq!(second.identity(), "sip_anonymous_2");
        drop(second);
        assert_eq!(
            identities.claim("room", "sip_anonymous").identity(),
            "sip_anonymous_2"
        );
    }
}
