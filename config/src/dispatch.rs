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
    /// Attributes set on the caller's participant, besides the standard `sip.*` ones.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata: String,
    /// How long the caller of a `direct` rule with a `pin` has to key it before the call
    /// ends (USER_UNAVAILABLE, 408 "PIN timeout"). Waiting in the room for someone to be
    /// there before answering, LiveKit's meaning for inbound calls, is not built yet.
    #[serde(default = "default_ringing_timeout")]
    pub ringing_timeout: Duration,
    /// The call is ended (CLIENT_INITIATED, 200 "Max duration") after this long; none if unset.
    pub max_call_duration: Option<Duration>,
    /// The room the caller's join creates, as LiveKit's `RoomConfiguration`: agents to
    /// dispatch into it, its timeouts and size. It rides in the caller's token, so it applies
    /// when the caller's join creates the room; a room that exists keeps its own.
    #[serde(default)]
    pub room_config: Option<RoomConfig>,
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

/// An agent to dispatch, by the name its worker registered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDispatch {
    pub agent_name: String,
    /// Handed to the agent with the job.
    #[serde(default)]
    pub metadata: String,
}

fn default_ringing_timeout() -> Duration {
    Duration::from_secs(30)
}

/// How the room is chosen. Written as a one-key map: `rule: { direct: { room: lobby } }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RoomRule {
    /// Every call joins one room; with a `pin`, the caller must enter it by DTMF first.
    Direct {
        room: String,
        #[serde(default)]
        pin: Option<String>,
    },
    /// Each call gets a room of its own: `<room_prefix><caller number>_<random suffix>`.
    Individual {
        #[serde(default)]
        room_prefix: String,
    },
    /// The room is named after the called number: `<room_prefix><called number>`.
    Callee {
        #[serde(default)]
        room_prefix: String,
    },
}
