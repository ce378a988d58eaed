//! The bridge's LiveKit leg: one room participant per call, built on livekit-signaling (the
//! WebSocket signal protocol) and str0m (WebRTC), driven by one task per participant.
//!
//! It knows nothing about SIP. The call actor joins with [`join`], feeds 20 ms Opus frames with
//! [`RoomHandle::send_audio`], reads [`RoomEvent`]s (remote audio as Opus packets, data,
//! attribute changes, the end of the participant) and leaves with [`RoomHandle::leave`].

pub mod attributes;
mod data;
mod departure;
mod driver;
mod join;
mod join_error;
mod peer;
mod remote;
mod token;
mod trickle;

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use data::{Delivery, Payload, ReceivedData, RpcError, RpcRequest};
pub use departure::Departure;
pub use join::{JoinRequest, RoomSettings, join};
pub use join_error::JoinError;
pub use livekit_protocol::DisconnectReason;
pub use remote::RemoteParticipant;
pub use token::Identity;

/// Something that happened in the room, in the order it happened.
#[derive(Debug)]
pub enum RoomEvent {
    /// Our audio track is published and its peer connection is up: audio now reaches the room.
    /// `after` counts from the start of [`join`].
    Published {
        track_sid: String,
        after: Duration,
    },
    /// The first frame given after [`RoomEvent::Published`] went out as RTP: the join is
    /// complete. `after` counts from the start of [`join`], which opens the signal connection.
    AudioSent {
        after: Duration,
    },
    /// Someone in the room subscribed to our audio track, the first time anyone did (the
    /// server says so once per track).
    Subscribed,
    /// Our own participant's attributes, all of them, as the server now has them.
    OwnAttributes(HashMap<String, String>),
    ParticipantJoined(RemoteParticipant),
    /// Name, metadata or attributes of a participant changed.
    ParticipantUpdated(RemoteParticipant),
    /// A participant left; `attributes` are its last ones (departure attributes included).
    ParticipantLeft {
        identity: String,
        reason: DisconnectReason,
        attributes: HashMap<String, String>,
    },
    /// A remote audio track appeared; the participant subscribes to it.
    TrackAdded {
        identity: String,
        track_sid: String,
        muted: bool,
    },
    TrackMuted {
        identity: String,
        track_sid: String,
        muted: bool,
    },
    TrackRemoved {
        identity: String,
        track_sid: String,
    },
    /// One Opus packet (20 ms, 48 kHz RTP clock) from a remote audio track.
    Audio(RemoteAudio),
    Data(ReceivedData),
    /// The participant is gone; nothing follows this event.
    Ended(RoomEnd),
}

/// Audio from one remote track.
#[derive(Debug, Clone)]
pub struct RemoteAudio {
    pub identity: String,
    pub track_sid: String,
    /// RTP sequence number, extended to 64 bits: what the playout buffer orders by.
    pub seq: u64,
    /// RTP time on the 48 kHz clock, extended to 64 bits (no wrap).
    pub rtp_time: u64,
    /// False when packets were lost just before this one (the decoder should conceal).
    pub contiguous: bool,
    pub opus: Vec<u8>,
}

/// Why the participant is no longer in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEnd {
    /// We left with this outcome.
    Left(Departure),
    /// The server ended it: removed, room deleted, duplicate identity, server shutdown, ...
    Removed { reason: DisconnectReason },
    /// The signal or media connection died and could not be resumed.
    Lost(String),
}

/// A request the room refused or could not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("the participant has left the room")]
    Gone,
    #[error("the server refused the request: {0}")]
    Refused(String),
    #[error("no answer from the server within {0:?}")]
    NoAnswer(Duration),
}

#[derive(Debug)]
enum Command {
    Data {
        payload: Payload,
        delivery: Delivery,
        destinations: Vec<String>,
        done: oneshot::Sender<Result<(), RoomError>>,
    },
    Attributes {
        attributes: HashMap<String, String>,
        done: oneshot::Sender<Result<(), RoomError>>,
    },
    Leave {
        departure: Departure,
        done: oneshot::Sender<RoomEnd>,
    },
}

/// Frames queued towards the participant task before new ones are dropped: 200 ms of audio,
/// more than enough for a task that is never blocked for long.
const AUDIO_QUEUE: usize = 10;

/// Feeds 20 ms Opus frames to our published track.
#[derive(Debug, Clone)]
pub struct AudioSender(mpsc::Sender<Vec<u8>>);

impl AudioSender {
    /// Queues one frame; false when it was dropped (the participant task is behind or gone).
    pub fn send(&self, opus: Vec<u8>) -> bool {
        self.0.try_send(opus).is_ok()
    }

    /// Whether the participant is gone, so sending is pointless.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The call actor's side of a joined participant. Dropping it makes the participant leave
/// with CLIENT_INITIATED.
#[derive(Debug)]
pub struct RoomHandle {
    commands: mpsc::Sender<Command>,
    audio: AudioSender,
    /// Our participant sid, as the server assigned it.
    pub participant_sid: String,
}

impl RoomHandle {
    /// Queues one 20 ms Opus frame for our track. Returns false when it was dropped because
    /// the participant task is behind or gone; audio is real-time, late frames are useless.
    pub fn send_audio(&self, opus: Vec<u8>) -> bool {
        self.audio.send(opus)
    }

    /// A sender for our track's audio that a media task can own.
    pub fn audio_sender(&self) -> AudioSender {
        self.audio.clone()
    }

    /// Sends a data packet to `destinations` (identities; empty means everyone).
    pub async fn send_data(
        &self,
        payload: Payload,
        delivery: Delivery,
        destinations: Vec<String>,
    ) -> Result<(), RoomError> {
        let (done, answer) = oneshot::channel();
        self.command(Command::Data {
            payload,
            delivery,
            destinations,
            done,
        })
        .await?;
        answer.await.map_err(|_| RoomError::Gone)?
    }

    /// Sets (or, with an empty value, removes) our attributes; returns once the server took them.
    pub async fn set_attributes(
        &self,
        attributes: HashMap<String, String>,
    ) -> Result<(), RoomError> {
        let (done, answer) = oneshot::channel();
        self.command(Command::Attributes { attributes, done })
            .await?;
        answer.await.map_err(|_| RoomError::Gone)?
    }

    /// Leaves the room: first the departure attributes, then the signal `LeaveRequest` with
    /// the departure's reason. Returns how the participant ended (which may be something
    /// else if the server removed it first).
    pub async fn leave(self, departure: Departure) -> RoomEnd {
        let (done, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::Leave { departure, done })
            .await
            .is_err()
        {
            return RoomEnd::Lost("the participant task had already ended".into());
        }
        answer
            .await
            .unwrap_or_else(|_| RoomEnd::Lost("the participant task ended while leaving".into()))
    }

    async fn command(&self, command: Command) -> Result<(), RoomError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| RoomError::Gone)
    }
}
