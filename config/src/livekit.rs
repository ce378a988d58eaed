//! `livekit:` — the LiveKit server the bridge joins rooms on and signs tokens for.

use serde::Deserialize;

use crate::values::Secret;

/// As written in the file. Every field may instead come from the environment
/// (`LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`), which wins over the file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveKitFile {
    pub(crate) url: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) api_secret: Option<Secret>,
}

/// The resolved LiveKit settings: all three are present once the config has loaded.
#[derive(Clone, Debug)]
pub struct LiveKit {
    /// `ws://`, `wss://`, `http://` or `https://` URL of the server.
    pub url: String,
    pub api_key: String,
    pub api_secret: Secret,
}

/// Whether `url` is a URL the LiveKit SDKs accept for a server.
pub(crate) fn is_server_url(url: &str) -> bool {
    ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|scheme| {
            url.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty())
        })
}
