//! What the participant knows of the other room members, kept from `ParticipantUpdate`s and
//! turned into events: who joined, changed attributes, published or muted audio, or left.

use std::collections::{HashMap, HashSet};

use livekit_protocol as proto;
use proto::participant_info::State;

use super::RoomEvent;

/// Another member of the room as the bridge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipant {
    pub sid: String,
    pub identity: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
}

#[derive(Debug)]
struct Known {
    info: RemoteParticipant,
    version: u32,
    /// Audio track sid → muted.
    audio: HashMap<String, bool>,
}

#[derive(Debug, Default)]
pub(super) struct Remotes {
    own_sid: String,
    by_sid: HashMap<String, Known>,
    /// Tracks we have asked the server for, so each is asked for once.
    requested: HashSet<String>,
    /// Our own attributes as the server last said, and that update's version.
    own_attributes: Option<(u32, HashMap<String, String>)>,
}

impl Remotes {
    pub(super) fn new(own_sid: String) -> Self {
        Self {
            own_sid,
            ..Default::default()
        }
    }

    /// Our own participant's attributes, when the server reports them changed (by us, or by
    /// the server API: an agent's `UpdateParticipant`).
    fn own_update(&mut self, info: proto::ParticipantInfo, events: &mut Vec<RoomEvent>) {
        if let Some((version, attributes)) = &self.own_attributes
            && ((info.version != 0 && info.version < *version) || *attributes == info.attributes)
        {
            return;
        }
        events.push(RoomEvent::OwnAttributes(info.attributes.clone()));
        self.own_attributes = Some((info.version, info.attributes));
    }

    /// The identity that published `track_sid`.
    pub(super) fn publisher_of(&self, track_sid: &str) -> Option<&str> {
        self.by_sid
            .values()
            .find(|k| k.audio.contains_key(track_sid))
            .map(|k| k.info.identity.as_str())
    }

    /// Applies participant infos (from the join response or an update). Returns the audio
    /// tracks to subscribe to; the events it produces are appended to `events`.
    pub(super) fn apply(
        &mut self,
        infos: Vec<proto::ParticipantInfo>,
        events: &mut Vec<RoomEvent>,
    ) -> Vec<String> {
        let mut subscribe = Vec::new();
        for info in infos {
            if info.sid == self.own_sid {
                self.own_update(info, events);
                continue;
            }
            if info.sid.is_empty() {
                continue;
            }
            if info.state == State::Disconnected as i32 {
                self.departed(info, events);
                continue;
            }
            let participant = RemoteParticipant {
                sid: info.sid.clone(),
                identity: info.identity.clone(),
                name: info.name.clone(),
                metadata: info.metadata.clone(),
                attributes: info.attributes.clone(),
            };
            let audio: HashMap<String, bool> = info
                .tracks
                .iter()
                .filter(|t| t.r#type == proto::TrackType::Audio as i32)
                .map(|t| (t.sid.clone(), t.muted))
                .collect();
            let known = match self.by_sid.get_mut(&info.sid) {
                // Updates may arrive out of order; an older one must not undo a newer.
                Some(known) if info.version != 0 && info.version < known.version => continue,
                Some(known) => known,
                None => {
                    events.push(RoomEvent::ParticipantJoined(participant.clone()));
                    self.by_sid.entry(info.sid.clone()).or_insert(Known {
                        info: participant.clone(),
                        version: 0,
                        audio: HashMap::new(),
                    })
                }
            };
            known.version = info.version;
            if known.info != participant {
                known.info = participant.clone();
                events.push(RoomEvent::ParticipantUpdated(participant));
            }
            diff_tracks(known, &audio, &mut self.requested, &mut subscribe, events);
            known.audio = audio;
        }
        subscribe
    }

    /// A participant left: its tracks go, and so does it, with the server's reason.
    fn departed(&mut self, info: proto::ParticipantInfo, events: &mut Vec<RoomEvent>) {
        let Some(gone) = self.by_sid.remove(&info.sid) else {
            return;
        };
        for track_sid in gone.audio.keys() {
            self.requested.remove(track_sid);
            events.push(RoomEvent::TrackRemoved {
                identity: gone.info.identity.clone(),
                track_sid: track_sid.clone(),
            });
        }
        let reason = proto::DisconnectReason::try_from(info.disconnect_reason).unwrap_or_default();
        events.push(RoomEvent::ParticipantLeft {
            identity: gone.info.identity,
            reason,
            attributes: info.attributes,
        });
    }
}

/// The events for a participant's audio tracks now `audio` (sid → muted): added (and to
/// subscribe, once), muted or unmuted, removed.
fn diff_tracks(
    known: &Known,
    audio: &HashMap<String, bool>,
    requested: &mut HashSet<String>,
    subscribe: &mut Vec<String>,
    events: &mut Vec<RoomEvent>,
) {
    let identity = &known.info.identity;
    for (sid, muted) in audio {
        match known.audio.get(sid) {
            None => {
                events.push(RoomEvent::TrackAdded {
                    identity: identity.clone(),
                    track_sid: sid.clone(),
                    muted: *muted,
                });
                if requested.insert(sid.clone()) {
                    subscribe.push(sid.clone());
                }
            }
            Some(was) if was != muted => events.push(RoomEvent::TrackMuted {
                identity: identity.clone(),
                track_sid: sid.clone(),
                muted: *muted,
            }),
            Some(_) => {}
        }
    }
    for sid in known.audio.keys().filter(|sid| !audio.contains_key(*sid)) {
        requested.remove(sid);
        events.push(RoomEvent::TrackRemoved {
            identity: identity.clone(),
            track_sid: sid.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sid: &str, version: u32, tracks: &[(&str, bool)]) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            sid: sid.into(),
            identity: format!("id-{sid}"),
            version,
            state: State::Active as i32,
            tracks: tracks
                .iter()
                .map(|(t, muted)| proto::TrackInfo {
                    sid: (*t).into(),
                    r#type: proto::TrackType::Audio as i32,
                    muted: *muted,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn join_publish_mute_unpublish_leave() {
        let mut r = Remotes::new("PA_me".into());
        let mut ev = Vec::new();
        assert!(
            r.apply(vec![info("PA_me", 1, &[("TR_mine", false)])], &mut ev)
                .is_empty()
        );
        assert!(
            matches!(&ev[..], [RoomEvent::OwnAttributes(a)] if a.is_empty()),
            "our own info gives our attributes only: {ev:?}"
        );
        ev.clear();
        r.apply(vec![info("PA_me", 1, &[("TR_mine", false)])], &mut ev);
        assert!(ev.is_empty(), "the same attributes again are not news");

        assert_eq!(
            r.apply(vec![info("PA_a", 1, &[("TR_1", false)])], &mut ev),
            vec!["TR_1".to_string()]
        );
        assert!(matches!(
            &ev[..],
            [
                RoomEvent::ParticipantJoined(_),
                RoomEvent::TrackAdded { .. }
            ]
        ));
        assert_eq!(r.publisher_of("TR_1"), Some("id-PA_a"));

        ev.clear();
        assert!(
            r.apply(vec![info("PA_a", 3, &[("TR_1", true)])], &mut ev)
                .is_empty()
        );
        assert!(matches!(
            &ev[..],
            [RoomEvent::TrackMuted { muted: true, .. }]
        ));

        ev.clear();
        r.apply(vec![info("PA_a", 2, &[])], &mut ev);
        assert!(ev.is_empty(), "a stale update is ignored");

        r.apply(vec![info("PA_a", 4, &[])], &mut ev);
        assert!(matches!(&ev[..], [RoomEvent::TrackRemoved { .. }]));

        ev.clear();
        let mut gone = info("PA_a", 5, &[]);
        gone.state = State::Disconnected as i32;
        gone.disconnect_reason = proto::DisconnectReason::RoomDeleted as i32;
        r.apply(vec![gone], &mut ev);
        assert!(matches!(
            &ev[..],
            [RoomEvent::ParticipantLeft {
                reason: proto::DisconnectReason::RoomDeleted,
                ..
            }]
        ));
    }

    /// An agent's UpdateParticipant on our participant reaches us as our own update; a stale
    /// one does not undo a newer one.
    #[test]
    fn our_own_attributes_are_followed_by_version() {
        let mut r = Remotes::new("PA_me".into());
        let mut ev = Vec::new();
        let mut me = info("PA_me", 2, &[]);
        me.attributes = HashMap::from([("crm.ticket".to_owned(), "42".to_owned())]);
        r.apply(vec![me.clone()], &mut ev);
        let stale = info("PA_me", 1, &[]);
        r.apply(vec![stale], &mut ev);
        let [RoomEvent::OwnAttributes(attributes)] = &ev[..] else {
            panic!("{ev:?}");
        };
        assert_eq!(attributes["crm.ticket"], "42");
    }
}
