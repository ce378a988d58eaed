//! Answered calls by room and participant identity, so that an API request naming a
//! participant (TransferSIPParticipant) reaches the task of that participant's call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::call::order::TransferOrder;

/// What the API asks of a running call.
#[derive(Debug)]
pub enum CallCommand {
    Transfer(TransferOrder),
}

/// Where a listed call takes its commands.
pub type CommandSender = mpsc::UnboundedSender<CallCommand>;

type Key = (String, String);

/// The answered calls; cheap to clone, shared by every call task and the API.
#[derive(Debug, Clone, Default)]
pub struct CallDirectory(Arc<Mutex<HashMap<Key, (u64, CommandSender)>>>);

/// A call's place in the directory, removed when dropped (the call ended).
#[derive(Debug)]
pub struct Listing {
    directory: CallDirectory,
    key: Key,
    serial: u64,
}

impl CallDirectory {
    /// Lists the call of participant `identity` in `room`; the API's commands for it come
    /// out of the returned receiver. A second call with the same identity and room replaces
    /// the first (LiveKit will have removed the first participant as a duplicate).
    pub fn list(
        &self,
        room: &str,
        identity: &str,
    ) -> (Listing, mpsc::UnboundedReceiver<CallCommand>) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let key = (room.to_owned(), identity.to_owned());
        let serial = rand::random();
        self.calls().insert(key.clone(), (serial, commands));
        let listing = Listing {
            directory: self.clone(),
            key,
            serial,
        };
        (listing, receiver)
    }

    /// The call of participant `identity` in `room`, if one is answered.
    pub fn find(&self, room: &str, identity: &str) -> Option<CommandSender> {
        let key = (room.to_owned(), identity.to_owned());
        self.calls().get(&key).map(|(_, commands)| commands.clone())
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u64, CommandSender)>> {
        // The map stays consistent whatever panicked while holding it: every change is
        // one insert or remove.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        let mut calls = self.directory.calls();
        // Only our own entry: a newer call of the same participant may have replaced it.
        if calls
            .get(&self.key)
            .is_some_and(|(serial, _)| *serial == self.serial)
        {
            calls.remove(&self.key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_found_until_its_listing_is_dropped() {
        let directory = CallDirectory::default();
        let (listing, mut commands) = directory.list("room", "alice");
        let found = directory.find("room", "alice").unwrap();
        assert!(found.same_channel(&directory.find("room", "alice").unwrap()));
        drop(found);
        assert!(directory.find("room", "bob").is_none());
        assert!(directory.find("other", "alice").is_none());
        drop(listing);
        assert!(directory.find("room", "alice").is_none());
        // The call's receiver sees no more senders once it is unlisted.
        assert!(commands.try_recv().is_err());
        assert!(commands.is_closed());
    }

    #[test]
    fn a_replaced_call_does_not_remove_its_successor() {
        let directory = CallDirectory::default();
        let (first, _a) = directory.list("room", "alice");
        let (_second, b) = directory.list("room", "alice");
        drop(first);
        assert!(!b.is_closed(), "the second call's sender is still listed");
        assert!(directory.find("room", "alice").is_some());
    }
}
