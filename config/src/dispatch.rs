//! `dispatch_rules:` — which room an inbound call goes to, and as whom.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::values::{Duration, Id};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchRule {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    /// Inbound trunks this rule serves; empty serves calls from every trunk.
    #[serde(default)]
    pub trunk_ids: Vec<Id>,
    pub rule: RoomRule,
    /// Keep the caller's number out of the room, as LiveKit's rule option of that name does:
    /// the identity is `sip_<hash of the number>`, the name `Phone <last 4 digits>`, and the
    /// `sip.phoneNumber`, `sip.trunkPhoneNumber` and `sip.hostname` attributes are not set.
    #[serde(default)]
    pub hide_phone_number: bool,
    /// Attributes set on the caller's participant, besides the standard `sip.*` ones.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: String,
    /// Without a PIN: answer only once someone in the room listens. The caller hears ringing
    /// (180, or with `early_media` a ringback tone in a 183) while it waits in the room, and
    /// gets the 200 when a room member subscribes to its audio; if no one does within this
    /// time, the call ends (USER_UNAVAILABLE, 480 "No one answered in the room"). Unset: the
    /// call is answered as soon as the caller is in the room.
    /// With a PIN: how long the caller has to key it (30 s when unset; USER_UNAVAILABLE,
    /// 408 "PIN timeout").
    #[serde(default)]
    pub ringing_timeout: Option<Duration>,
    /// While the caller waits (see `ringing_timeout`), answer its INVITE with 183 Session
    /// Progress and play a ringback tone as early media, instead of a plain 180 Ringing (for
    /// phones and carriers that play no ringback of their own). An INVITE without an offer
    /// gets the 180 anyway: our offer cannot ride in an unreliable 183.
    #[serde(default)]
    pub early_media: bool,
    /// The call is ended (CLIENT_INITIATED, 200 "Max duration") after this long; none if unset.
    pub max_call_duration: Option<Duration>,
    /// The room the caller's join creates, as LiveKit's `RoomConfiguration`: agents to
    /// dispatch into it, its timeouts and size. It rides in the caller's token, so it applies
    /// when the caller's join creates the room; a room that exists keeps its own.
    #[serde(default)]
    pub room_config: Option<RoomConfig>,
    /// A name of `room_presets:` to start the room configuration from; `room_config` sets
    /// over it.
    #[serde(default)]
    pub room_preset: Option<String>,
}

/// LiveKit's `RoomConfiguration`, the part a dispatch rule sets.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// Agents livekit-server dispatches into the room when it is created.
    #[serde(default)]
    pub agents: Vec<AgentDispatch>,
    /// How long the room stays open with nobody in it, and after the last one left.
    pub empty_timeout: Option<Duration>,
    pub departure_timeout: Option<Duration>,
    pub max_participants: Option<u32>,
    /// The room's metadata.
    #[serde(default)]
    pub metadata: String,
}

impl RoomConfig {
    /// This configuration with what it leaves unset taken from `base`.
    pub fn over(&self, base: &RoomConfig) -> RoomConfig {
        RoomConfig {
            agents: if self.agents.is_empty() {
                base.agents.clone()
            } else {
                self.agents.clone()
            },
            empty_timeout: self.empty_timeout.or(base.empty_timeout),
            departure_timeout: self.departure_timeout.or(base.departure_timeout),
            max_participants: self.max_participants.or(base.max_participants),
            metadata: if self.metadata.is_empty() {
                base.metadata.clone()
            } else {
                self.metadata.clone()
            },
        }
    }
}

/// An agent to dispatch, by the name its worker registered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDispatch {
    pub agent_name: String,
    /// Handed to the agent with the job.
    #[serde(default)]
    pub metadata: String,
}

/// How the room is chosen. Written as a one-key map: `rule: { direct: { room: lobby } }`.
/// Any kind may take a `pin`: the caller must key it (DTMF) before joining.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RoomRule {
    /// Every call joins one room.
    Direct {
        room: String,
        #[serde(default)]
        pin: Option<String>,
    },
    /// Each call gets a room of its own: `<room_prefix><caller number>_<random suffix>`.
    Individual {
        #[serde(default)]
        room_prefix: String,
        #[serde(default)]
        pin: Option<String>,
    },
    /// The room is named after the called number: `<room_prefix><called number>`.
    Callee {
        #[serde(default)]
        room_prefix: String,
        #[serde(default)]
        pin: Option<String>,
    },
}

impl RoomRule {
    /// The PIN a caller must key before joining, if the rule has one.
    pub fn pin(&self) -> Option<&str> {
        match self {
            Self::Direct { pin, .. } | Self::Individual { pin, .. } | Self::Callee { pin, .. } => {
                pin.as_deref()
            }
        }
    }

    /// The rule's kind, as the YAML names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Direct { .. } => "direct",
            Self::Individual { .. } => "individual",
            Self::Callee { .. } => "callee",
        }
    }
}
