//! Joining a room: the token, the signal connection and the start of the participant task.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use livekit_signaling::{SignalClient, SignalOptions};
use tokio::sync::mpsc;

use super::driver::Driver;
use super::join_error::JoinError;
use super::peer::local_ip_towards;
use super::token::{self, Identity};
use super::{AUDIO_QUEUE, AudioSender, RoomEvent, RoomHandle};

/// Where the LiveKit server is and how to sign tokens for it.
#[derive(Clone)]
pub struct RoomSettings {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

impl std::fmt::Debug for RoomSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl RoomSettings {
    pub fn from_config(livekit: &sipbridge_config::LiveKit) -> Self {
        Self {
            url: livekit.url.clone(),
            api_key: livekit.api_key.clone(),
            api_secret: livekit.api_secret.expose().to_owned(),
        }
    }
}

/// Which room to join, as whom.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub room: String,
    pub who: Identity,
}

/// The whole connect, including a retry-free wait for the server's join response.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The signal protocol version we speak. livekit-signaling defaults to 18, where data channels
/// are negotiated out of band with fixed ids; servers up to v1.13 know 17 at most and expect
/// in-band (DCEP) channels, which is what we open. Saying 17 keeps both sides agreed.
const PROTOCOL_VERSION: u32 = 17;

/// Joins `request.room` and starts the participant's task. Returns once the server has
/// accepted the participant; [`RoomEvent::Published`] follows when our track is up, and
/// [`RoomEvent::AudioSent`] with the first RTP packet.
pub async fn join(
    settings: &RoomSettings,
    request: JoinRequest,
) -> Result<(RoomHandle, mpsc::Receiver<RoomEvent>), JoinError> {
    let started = Instant::now();
    let token = token::join_token(
        &settings.api_key,
        &settings.api_secret,
        &request.room,
        &request.who,
    )?;
    let local_ip = local_ip_for(&settings.url).await?;

    let mut options = SignalOptions::default();
    // Only audio is wanted: we subscribe to each audio track ourselves, never to video.
    options.auto_subscribe = false;
    options.protocol_version = PROTOCOL_VERSION;
    // Other members see this: at the default, their SDKs send participant RPCs to us as
    // `RpcRequest` packets (version 1), which `call::driver` answers, never over data streams.
    options.client_protocol = livekit_signaling::CLIENT_PROTOCOL_DEFAULT;
    // Our own deployment, never LiveKit Cloud's region list.
    options.region_failover = false;
    let connect = SignalClient::connect(&settings.url, &token, options, None);
    let (signal, join_response, signal_events) = tokio::time::timeout(JOIN_TIMEOUT, connect)
        .await
        .map_err(|_| JoinError::Timeout(JOIN_TIMEOUT))??;

    let (commands_tx, commands) = mpsc::channel(16);
    let (audio_tx, audio) = mpsc::channel(AUDIO_QUEUE);
    let (events_tx, events) = mpsc::channel(256);
    let participant_sid = join_response
        .participant
        .as_ref()
        .map(|p| p.sid.clone())
        .unwrap_or_default();
    let driver = Driver::start(
        signal,
        join_response,
        signal_events,
        local_ip,
        started,
        commands,
        audio,
        events_tx,
    )
    .await?;
    tokio::spawn(driver.run());
    Ok((
        RoomHandle {
            commands: commands_tx,
            audio: AudioSender(audio_tx),
            participant_sid,
        },
        events,
    ))
}

/// The local IP that routes to the LiveKit server: our ICE host candidate.
async fn local_ip_for(url: &str) -> Result<IpAddr, JoinError> {
    let bad = |detail: &str| JoinError::Url {
        url: url.to_owned(),
        detail: detail.to_owned(),
    };
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| bad("no scheme"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let default_port = if url.starts_with("wss") || url.starts_with("https") {
        443
    } else {
        80
    };
    let host_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    };
    let server: SocketAddr = tokio::net::lookup_host(&host_port)
        .await?
        .next()
        .ok_or_else(|| bad("the host has no address"))?;
    Ok(local_ip_towards(server)?)
}
