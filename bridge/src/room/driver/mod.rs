//! The participant's task: one loop that drives the signal connection, both str0m peer
//! connections, their UDP sockets and every timer, and talks to the call actor by channels.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use livekit_signaling::{SignalClient, SignalEvents};
use proto::signal_request::Message as Request;
use str0m::Event;
use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::media::{Direction, MediaKind, Mid};
use tokio::sync::{mpsc, oneshot};

mod leave;
mod media;
mod signal;

use super::data::Delivery;
use super::join_error::JoinError;
use super::peer::Peer;
use super::remote::Remotes;
use super::{Command, RoomEnd, RoomError, RoomEvent, trickle};
use leave::{LeaveStage, Leaving};

/// How long a request (attributes, data before the channel opens) may wait for the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Our audio must be flowing this soon after joining, or the media path is broken.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// A peer connection may be disconnected this long (ICE consent lost) before we give up.
const MEDIA_LOSS_GRACE: Duration = Duration::from_secs(5);
/// Each step of leaving (attributes acknowledged, leave acknowledged) waits at most this.
const LEAVE_STEP_TIMEOUT: Duration = Duration::from_secs(2);
/// How soon room events the call actor's queue could not take are offered again.
const BACKLOG_RETRY: Duration = Duration::from_millis(20);
/// Time spent trying to resume a dropped signal connection before reporting it lost.
const RESUME_BUDGET: Duration = Duration::from_secs(5);
/// One Opus frame of 20 ms on the 48 kHz RTP clock.
const OPUS_FRAME_TICKS: u64 = 960;

type Reply = oneshot::Sender<Result<(), RoomError>>;

pub(super) struct Driver {
    signal: SignalClient,
    signal_events: SignalEvents,
    commands: mpsc::Receiver<Command>,
    audio: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<RoomEvent>,
    publisher: Peer,
    subscriber: Peer,
    pending_offer: Option<SdpPendingOffer>,
    audio_mid: Mid,
    track_sid: Option<String>,
    rtp_time: u64,
    /// Our data channels on the publisher connection, and which of them are open.
    out_channels: OutChannels,
    /// Channels we read data from (the server's on the subscriber connection, and ours).
    in_channels: HashMap<(proto::SignalTarget, ChannelId), Delivery>,
    /// Data waiting for its channel to open.
    queued_data: Vec<(Delivery, Vec<u8>, Reply, Instant)>,
    /// Subscriber m-line → remote track sid, from the server's latest offer.
    mid_tracks: HashMap<Mid, String>,
    remotes: Remotes,
    requests: HashMap<u32, (Reply, Instant)>,
    started: Instant,
    published: bool,
    /// Whether [`RoomEvent::AudioSent`] went out (after the first frame written once published).
    audio_sent: bool,
    publisher_up: bool,
    media_down_since: Option<Instant>,
    leaving: Option<Leaving>,
    rtc_events: Vec<Event>,
    room_events: Vec<RoomEvent>,
    ended: Option<RoomEnd>,
    commands_open: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("track_sid", &self.track_sid)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Sets up both peer connections, announces our audio track and sends the publisher offer.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn start(
        signal: SignalClient,
        join: proto::JoinResponse,
        signal_events: SignalEvents,
        local_ip: IpAddr,
        started: Instant,
        commands: mpsc::Receiver<Command>,
        audio: mpsc::Receiver<Vec<u8>>,
        events: mpsc::Sender<RoomEvent>,
    ) -> Result<Self, JoinError> {
        let now = Instant::now();
        let mut publisher = Peer::new(proto::SignalTarget::Publisher, local_ip, now).await?;
        let subscriber = Peer::new(proto::SignalTarget::Subscriber, local_ip, now).await?;

        // The track's client id ties the AddTrackRequest to the m-line: the server matches it
        // against the msid track id of our offer.
        let cid = format!(
            "sipbridge-audio-{}",
            join.participant
                .as_ref()
                .map(|p| p.sid.as_str())
                .unwrap_or("")
        );
        let (offer, pending, audio_mid, out_channels) = publisher_offer(&mut publisher, &cid)?;

        let own_sid = join
            .participant
            .as_ref()
            .map(|p| p.sid.clone())
            .unwrap_or_default();
        let mut driver = Self {
            signal,
            signal_events,
            commands,
            audio,
            events,
            publisher,
            subscriber,
            pending_offer: Some(pending),
            audio_mid,
            track_sid: None,
            rtp_time: 0,
            in_channels: out_channels
                .iter()
                .map(|(d, (id, _))| ((proto::SignalTarget::Publisher, *id), *d))
                .collect(),
            out_channels,
            queued_data: Vec::new(),
            mid_tracks: HashMap::new(),
            remotes: Remotes::new(own_sid),
            requests: HashMap::new(),
            started,
            published: false,
            audio_sent: false,
            publisher_up: false,
            media_down_since: None,
            leaving: None,
            rtc_events: Vec::new(),
            room_events: Vec::new(),
            ended: None,
            commands_open: true,
        };
        // Ourselves first: the attributes we joined with.
        let everyone = join.participant.into_iter().chain(join.other_participants);
        let subscribe = driver
            .remotes
            .apply(everyone.collect(), &mut driver.room_events);
        driver.subscribe(subscribe).await;

        driver.announce(cid, offer.to_sdp_string()).await;
        driver.drain_peers()?;
        Ok(driver)
    }

    /// Announces our audio track (its `cid` ties it to the offer's m-line), sends the
    /// publisher offer and both peers' candidates.
    async fn announce(&mut self, cid: String, offer: String) {
        let add_track = proto::AddTrackRequest {
            cid,
            name: "phone".to_owned(),
            r#type: proto::TrackType::Audio as i32,
            source: proto::TrackSource::Microphone as i32,
            // We send a packet every 20 ms, silence included, and no RED.
            disable_red: true,
            audio_features: vec![proto::AudioTrackFeature::TfNoDtx as i32],
            ..Default::default()
        };
        self.signal.send(Request::AddTrack(add_track)).await;
        let offer = proto::SessionDescription {
            r#type: "offer".into(),
            sdp: offer,
            ..Default::default()
        };
        self.signal.send(Request::Offer(offer)).await;
        for peer in [&self.publisher, &self.subscriber] {
            if let Some(candidate) = peer.local_candidate() {
                self.signal
                    .send(Request::Trickle(trickle::request(&candidate, peer.target)))
                    .await;
            }
        }
    }

    /// Runs until the participant has left, been removed or lost its connection.
    pub(super) async fn run(mut self) {
        while self.ended.is_none() {
            let wake = self.next_wake();
            tokio::select! {
                event = self.signal_events.recv() => self.on_signal_event(event).await,
                command = self.commands.recv(), if self.commands_open => self.on_command(command).await,
                Some(opus) = self.audio.recv() => self.write_audio(opus),
                received = self.publisher.recv() => {
                    if let Ok((len, source)) = received {
                        let result = self.publisher.receive(Instant::now(), len, source);
                        self.check_rtc(result);
                    }
                }
                received = self.subscriber.recv() => {
                    if let Ok((len, source)) = received {
                        let result = self.subscriber.receive(Instant::now(), len, source);
                        self.check_rtc(result);
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            // Checked after every branch: with audio arriving every 20 ms the sleep branch
            // may lose the race to a ready socket, but timers must still run on time.
            if Instant::now() >= wake {
                self.on_timers().await;
            }
            self.settle();
            self.dispatch().await;
        }
        self.shut_down().await;
    }

    fn next_wake(&self) -> Instant {
        let mut wake = self.publisher.deadline.min(self.subscriber.deadline);
        // The watchdog checks for lost media, unanswered requests and a stuck join.
        wake = wake.min(Instant::now() + Duration::from_millis(500));
        if let Some(leaving) = &self.leaving {
            wake = wake.min(leaving.deadline);
        }
        if !self.room_events.is_empty() {
            wake = wake.min(Instant::now() + BACKLOG_RETRY);
        }
        wake
    }

    fn check_rtc(&mut self, result: Result<(), str0m::RtcError>) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "str0m rejected input");
        }
    }

    /// Drains both peer connections after a mutation. str0m requires a full drain between any
    /// two mutations of one `Rtc` (its "single-mutation invariant"), so every input, write and
    /// timeout is followed by this before the next.
    fn settle(&mut self) {
        if let Err(e) = self.drain_peers() {
            self.end(RoomEnd::Lost(format!("WebRTC failure: {e}")));
        }
    }

    /// Drains both peer connections and turns their events into room events.
    fn drain_peers(&mut self) -> Result<(), str0m::RtcError> {
        for target in [
            proto::SignalTarget::Publisher,
            proto::SignalTarget::Subscriber,
        ] {
            let mut events = std::mem::take(&mut self.rtc_events);
            self.peer(target).drain(&mut events)?;
            for event in events.drain(..) {
                self.on_rtc_event(target, event);
            }
            self.rtc_events = events;
        }
        Ok(())
    }

    fn peer(&mut self, target: proto::SignalTarget) -> &mut Peer {
        match target {
            proto::SignalTarget::Publisher => &mut self.publisher,
            proto::SignalTarget::Subscriber => &mut self.subscriber,
        }
    }

    async fn on_command(&mut self, command: Option<Command>) {
        match command {
            Some(Command::Data {
                payload,
                delivery,
                destinations,
                done,
            }) => self.send_data(&payload, delivery, &destinations, done),
            Some(Command::Attributes { attributes, done }) => {
                let id = self.update_attributes(attributes).await;
                self.requests
                    .insert(id, (done, Instant::now() + REQUEST_TIMEOUT));
            }
            Some(Command::Leave { departure, done }) => {
                self.start_leaving(Some(departure), Some(done)).await
            }
            // The call actor dropped its handle without leaving: leave plainly.
            None => {
                self.commands_open = false;
                self.start_leaving(None, None).await;
            }
        }
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        for target in [
            proto::SignalTarget::Publisher,
            proto::SignalTarget::Subscriber,
        ] {
            let peer = self.peer(target);
            if now >= peer.deadline {
                if let Err(e) = peer.timeout(now) {
                    tracing::debug!(error = %e, "str0m timeout handling failed");
                }
                self.settle();
            }
        }
        self.flush_queued_data();
        let expired: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some((reply, _)) = self.requests.remove(&id) {
                let _ = reply.send(Err(RoomError::NoAnswer(REQUEST_TIMEOUT)));
            }
        }
        if !self.published && now >= self.started + PUBLISH_TIMEOUT && self.leaving.is_none() {
            return self.end(RoomEnd::Lost(format!(
                "audio not flowing to the room {PUBLISH_TIMEOUT:?} after joining"
            )));
        }
        if self
            .media_down_since
            .is_some_and(|since| now >= since + MEDIA_LOSS_GRACE)
        {
            return self.end(RoomEnd::Lost(format!(
                "media connection to LiveKit lost for {MEDIA_LOSS_GRACE:?}"
            )));
        }
        let step_timed_out = self.leaving.as_ref().is_some_and(|l| now >= l.deadline);
        if step_timed_out {
            match self.leaving.as_ref().map(|l| &l.stage) {
                Some(LeaveStage::Attributes(_)) => self.send_leave().await,
                _ => self.finish_leaving(),
            }
        }
    }

    fn end(&mut self, end: RoomEnd) {
        if self.ended.is_none() {
            self.ended = Some(end);
        }
    }

    /// Hands the collected room events to the call actor, never waiting for it: a call actor
    /// that is itself waiting for this task (an attribute update, a data packet) would never
    /// read them, and the two would wait for each other for ever. What the queue cannot take
    /// now stays for the next turn, in order (the loop comes back within [`BACKLOG_RETRY`]);
    /// audio that cannot go now is dropped (it is real time).
    async fn dispatch(&mut self) {
        use tokio::sync::mpsc::error::TrySendError;
        let mut listener_gone = false;
        let mut events = std::mem::take(&mut self.room_events).into_iter();
        for event in events.by_ref() {
            match self.events.try_send(event) {
                Ok(()) | Err(TrySendError::Full(RoomEvent::Audio(_))) => {}
                Err(TrySendError::Full(event)) => {
                    self.room_events.push(event);
                    break;
                }
                Err(TrySendError::Closed(_)) => listener_gone = true,
            }
        }
        let later = events.filter(|event| !matches!(event, RoomEvent::Audio(_)));
        self.room_events.extend(later);
        if listener_gone && self.leaving.is_none() {
            // Nobody listens any more; leave rather than linger in the room.
            self.start_leaving(None, None).await;
        }
    }

    /// Closes everything and delivers the final event.
    async fn shut_down(mut self) {
        let end = self
            .ended
            .take()
            .unwrap_or(RoomEnd::Lost("participant task ended".into()));
        for (_, (reply, _)) in self.requests.drain() {
            let _ = reply.send(Err(RoomError::Gone));
        }
        for (_, _, reply, _) in self.queued_data.drain(..) {
            let _ = reply.send(Err(RoomError::Gone));
        }
        if let Some(done) = self.leaving.as_mut().and_then(|l| l.done.take()) {
            let _ = done.send(end.clone());
        }
        tracing::debug!(
            publisher = self.publisher.send_drops,
            subscriber = self.subscriber.send_drops,
            "datagrams dropped on full socket buffers"
        );
        self.publisher.rtc.disconnect();
        self.subscriber.rtc.disconnect();
        self.signal.close().await;
        // What the call actor has not taken yet, then the end; bounded, so a call actor that
        // stopped reading cannot keep this task alive.
        let backlog = std::mem::take(&mut self.room_events);
        let events = &self.events;
        let deliver = async move {
            for event in backlog {
                if events.send(event).await.is_err() {
                    return;
                }
            }
            let _ = events.send(RoomEvent::Ended(end)).await;
        };
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, deliver).await;
    }
}

/// Our data channels, by delivery: their id and whether they are open.
type OutChannels = HashMap<Delivery, (ChannelId, bool)>;

/// The publisher's offer: our send-only audio m-line (msid track id `cid`) and the two data
/// channels LiveKit expects, reliable and lossy.
fn publisher_offer(
    publisher: &mut Peer,
    cid: &str,
) -> Result<(SdpOffer, SdpPendingOffer, Mid, OutChannels), JoinError> {
    let mut sdp = publisher.rtc.sdp_api();
    let audio_mid = sdp.add_media(
        MediaKind::Audio,
        Direction::SendOnly,
        None,
        Some(cid.to_owned()),
        None,
    );
    let mut out_channels = HashMap::new();
    for (delivery, ordered, reliability) in [
        (Delivery::Reliable, true, Reliability::Reliable),
        (
            Delivery::Lossy,
            false,
            Reliability::MaxRetransmits { retransmits: 0 },
        ),
    ] {
        let config = ChannelConfig {
            label: delivery.label().to_owned(),
            ordered,
            reliability,
            ..Default::default()
        };
        out_channels.insert(delivery, (sdp.add_channel_with_config(config), false));
    }
    let (offer, pending) = sdp.apply().ok_or(JoinError::NoOffer)?;
    Ok((offer, pending, audio_mid, out_channels))
}
