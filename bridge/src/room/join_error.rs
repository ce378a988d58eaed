//! Why a participant could not join a room: what `room::join` and the participant's task
//! report, kept apart from both so neither depends on the other for it.

use std::time::Duration;

use livekit_signaling::SignalError;

/// Why a participant could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("cannot sign a join token: {0}")]
    Token(#[from] livekit_api::access_token::AccessTokenError),
    #[error("livekit url {url:?}: {detail}")]
    Url { url: String, detail: String },
    #[error("signal connection to LiveKit failed: {0}")]
    Signal(#[from] SignalError),
    #[error("no join response from LiveKit within {0:?}")]
    Timeout(Duration),
    #[error("cannot open a media socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("WebRTC set-up failed: {0}")]
    Rtc(#[from] str0m::RtcError),
    #[error("WebRTC set-up failed: no publisher offer")]
    NoOffer,
}
