//! `mode:` — whether the bridge serves trunks and rules of its own, or is one of the SIP nodes of
//! a LiveKit deployment.

use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Trunks and dispatch rules come from this file, and outbound calls from the bridge's own
    /// Twirp API.
    #[default]
    Standalone,
    /// A SIP node of a LiveKit deployment: livekit-server hands it calls over psrpc on the Redis
    /// of `redis:`, and trunks and dispatch rules are created through livekit-server's SIP API.
    Cluster,
}

impl Mode {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Standalone => "standalone",
            Mode::Cluster => "cluster",
        }
    }
}
