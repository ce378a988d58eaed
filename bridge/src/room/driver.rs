//! The participant's task: one loop that drives the signal connection, both str0m peer
//! connections, their UDP sockets and every timer, and talks to the call actor by channels.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use livekit_signaling::{SignalClient, SignalEvent, SignalEvents};
use proto::signal_request::Message as Request;
use str0m::Event;
use str0m::change::SdpPendingOffer;
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use tokio::sync::{mpsc, oneshot};

use super::data::{self, Delivery, Payload};
use super::join::JoinError;
use super::peer::Peer;
use super::remote::Remotes;
use super::{
    Command, Departure, DisconnectReason, RemoteAudio, RoomEnd, RoomError, RoomEvent, trickle,
};

/// How long a request (attributes, data before the channel opens) may wait for the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Our audio must be flowing this soon after joining, or the media path is broken.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// A peer connection may be disconnected this long (ICE consent lost) before we give up.
const MEDIA_LOSS_GRACE: Duration = Duration::from_secs(5);
/// Each step of leaving (attributes acknowledged, leave acknowledged) waits at most this.
const LEAVE_STEP_TIMEOUT: Duration = Duration::from_secs(2);
/// Time spent trying to resume a dropped signal connection before reporting it lost.
const RESUME_BUDGET: Duration = Duration::from_secs(5);
/// One Opus frame of 20 ms on the 48 kHz RTP clock.
const OPUS_FRAME_TICKS: u64 = 960;

/// What we are waiting for while leaving.
#[derive(Debug)]
enum LeaveStage {
    /// The server's answer to the departure attributes (request id).
    Attributes(u32),
    /// The server's goodbye after our `LeaveRequest`.
    Goodbye,
}

#[derive(Debug)]
struct Leaving {
    departure: Option<Departure>,
    stage: LeaveStage,
    deadline: Instant,
    done: Option<oneshot::Sender<RoomEnd>>,
}

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
    out_channels: HashMap<Delivery, (ChannelId, bool)>,
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
        let mut sdp = publisher.rtc.sdp_api();
        let audio_mid = sdp.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            None,
            Some(cid.clone()),
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
        let Some((offer, pending)) = sdp.apply() else {
            return Err(JoinError::NoOffer);
        };

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
            publisher_up: false,
            media_down_since: None,
            leaving: None,
            rtc_events: Vec::new(),
            room_events: Vec::new(),
            ended: None,
            commands_open: true,
        };
        let subscribe = driver
            .remotes
            .apply(join.other_participants, &mut driver.room_events);
        driver.subscribe(subscribe).await;

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
        driver.signal.send(Request::AddTrack(add_track)).await;
        let offer = proto::SessionDescription {
            r#type: "offer".into(),
            sdp: offer.to_sdp_string(),
            ..Default::default()
        };
        driver.signal.send(Request::Offer(offer)).await;
        for peer in [&driver.publisher, &driver.subscriber] {
            if let Some(candidate) = peer.local_candidate() {
                driver
                    .signal
                    .send(Request::Trickle(trickle::request(&candidate, peer.target)))
                    .await;
            }
        }
        driver.drain_peers()?;
        Ok(driver)
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
                _ = tokio::time::sleep_until(wake.into()) => self.on_timers().await,
            }
            if let Err(e) = self.drain_peers() {
                self.end(RoomEnd::Lost(format!("WebRTC failure: {e}")));
            }
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
        wake
    }

    fn check_rtc(&mut self, result: Result<(), str0m::RtcError>) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "str0m rejected input");
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

    fn on_rtc_event(&mut self, target: proto::SignalTarget, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(?target, ?state, "ICE state");
                let down = matches!(state, str0m::IceConnectionState::Disconnected);
                if down {
                    self.media_down_since.get_or_insert(Instant::now());
                } else if self.publisher.rtc.is_connected() && self.subscriber.rtc.is_connected() {
                    self.media_down_since = None;
                }
            }
            Event::Connected if target == proto::SignalTarget::Publisher => {
                self.publisher_up = true;
                self.announce_published();
            }
            Event::MediaAdded(added) => {
                // The server names the track in the msid of each m-line it offers.
                if let Some(media) = self.subscriber.rtc.media(added.mid) {
                    self.mid_tracks
                        .entry(added.mid)
                        .or_insert_with(|| media.track_id().to_owned());
                }
            }
            Event::MediaData(data) if target == proto::SignalTarget::Subscriber => {
                let Some(track_sid) = self.mid_tracks.get(&data.mid) else {
                    return;
                };
                let identity = self
                    .remotes
                    .publisher_of(track_sid)
                    .unwrap_or_default()
                    .to_owned();
                self.room_events.push(RoomEvent::Audio(RemoteAudio {
                    identity,
                    track_sid: track_sid.clone(),
                    rtp_time: data.time.numer(),
                    contiguous: data.contiguous,
                    opus: data.data.to_vec(),
                }));
            }
            Event::ChannelOpen(id, label) => {
                tracing::debug!(?target, label, "data channel open");
                if target == proto::SignalTarget::Publisher {
                    for (_, (out_id, open)) in self.out_channels.iter_mut() {
                        if *out_id == id {
                            *open = true;
                        }
                    }
                } else if let Some(delivery) = [Delivery::Reliable, Delivery::Lossy]
                    .into_iter()
                    .find(|d| d.label() == label)
                {
                    self.in_channels.insert((target, id), delivery);
                }
            }
            Event::ChannelData(chunk) => {
                let Some(delivery) = self.in_channels.get(&(target, chunk.id)).copied() else {
                    return;
                };
                match data::decode(&chunk.data, delivery) {
                    Ok(Some(received)) => self.room_events.push(RoomEvent::Data(received)),
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "undecodable data packet"),
                }
            }
            _ => {}
        }
    }

    fn announce_published(&mut self) {
        if self.published || !self.publisher_up {
            return;
        }
        if let Some(track_sid) = self.track_sid.clone() {
            self.published = true;
            self.room_events.push(RoomEvent::Published {
                track_sid,
                after: self.started.elapsed(),
            });
        }
    }

    fn write_audio(&mut self, opus: Vec<u8>) {
        let now = Instant::now();
        let rtp_time = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        // Time advances with every frame handed to us, sent or not, so the far end's jitter
        // buffer sees a steady clock.
        self.rtp_time += OPUS_FRAME_TICKS;
        let Some(writer) = self.publisher.rtc.writer(self.audio_mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
        else {
            return;
        };
        if let Err(e) = writer.write(pt, now, rtp_time, opus) {
            tracing::debug!(error = %e, "audio frame not written");
        }
    }

    async fn on_signal_event(&mut self, event: Option<SignalEvent>) {
        match event {
            Some(SignalEvent::Message(message)) => self.on_signal_message(*message).await,
            Some(SignalEvent::Close(why)) => self.resume_or_end(why.into_owned()).await,
            None => self.resume_or_end("signal client stopped".into()).await,
        }
    }

    async fn on_signal_message(&mut self, message: proto::signal_response::Message) {
        use proto::signal_response::Message as M;
        match message {
            M::Answer(answer) => self.on_publisher_answer(answer),
            M::Offer(offer) => self.on_subscriber_offer(offer).await,
            M::Trickle(t) => self.on_trickle(t),
            M::Update(update) => {
                let subscribe = self
                    .remotes
                    .apply(update.participants, &mut self.room_events);
                self.subscribe(subscribe).await;
            }
            M::TrackPublished(published) => {
                self.track_sid = published.track.map(|t| t.sid);
                self.announce_published();
            }
            M::RequestResponse(response) => self.on_request_response(response).await,
            M::Leave(leave) => self.on_server_leave(leave),
            M::RefreshToken(_) | M::Pong(_) | M::PongResp(_) => {}
            other => tracing::trace!(?other, "signal message ignored"),
        }
    }

    fn on_publisher_answer(&mut self, answer: proto::SessionDescription) {
        let Some(pending) = self.pending_offer.take() else {
            tracing::debug!("publisher answer without an offer; ignored");
            return;
        };
        let result = str0m::change::SdpAnswer::from_sdp_string(&answer.sdp)
            .map_err(|e| e.to_string())
            .and_then(|a| {
                self.publisher
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, a)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            self.end(RoomEnd::Lost(format!(
                "the server's publisher answer was not usable: {e}"
            )));
        }
    }

    async fn on_subscriber_offer(&mut self, offer: proto::SessionDescription) {
        let answer = str0m::change::SdpOffer::from_sdp_string(&offer.sdp)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                self.subscriber
                    .rtc
                    .sdp_api()
                    .accept_offer(o)
                    .map_err(|e| e.to_string())
            });
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                return self.end(RoomEnd::Lost(format!(
                    "the server's subscriber offer was not usable: {e}"
                )));
            }
        };
        // The server may reuse an m-line for another track, so the map is rebuilt per offer.
        for (mid, track_sid) in offer.mid_to_track_id {
            self.mid_tracks.insert(Mid::from(mid.as_str()), track_sid);
        }
        let answer = proto::SessionDescription {
            r#type: "answer".into(),
            sdp: answer.to_sdp_string(),
            id: offer.id,
            ..Default::default()
        };
        self.signal.send(Request::Answer(answer)).await;
    }

    fn on_trickle(&mut self, request: proto::TrickleRequest) {
        let target =
            proto::SignalTarget::try_from(request.target).unwrap_or(proto::SignalTarget::Publisher);
        match trickle::parse(&request.candidate_init) {
            Ok(Some(candidate)) => self.peer(target).rtc.add_remote_candidate(candidate),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "server candidate ignored"),
        }
    }

    async fn subscribe(&mut self, track_sids: Vec<String>) {
        if track_sids.is_empty() {
            return;
        }
        let update = proto::UpdateSubscription {
            track_sids,
            subscribe: true,
            ..Default::default()
        };
        self.signal.send(Request::Subscription(update)).await;
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

    fn send_data(
        &mut self,
        payload: &Payload,
        delivery: Delivery,
        destinations: &[String],
        done: Reply,
    ) {
        let bytes = data::encode(payload, delivery, destinations);
        match self.out_channels.get(&delivery) {
            Some((id, true)) => {
                let id = *id;
                let _ = done.send(self.write_channel(id, &bytes));
            }
            // Not open yet (the first seconds after joining): hold it until it is.
            _ => self
                .queued_data
                .push((delivery, bytes, done, Instant::now() + REQUEST_TIMEOUT)),
        }
    }

    fn write_channel(&mut self, id: ChannelId, bytes: &[u8]) -> Result<(), RoomError> {
        let Some(mut channel) = self.publisher.rtc.channel(id) else {
            return Err(RoomError::Refused("the data channel is closed".into()));
        };
        match channel.write(true, bytes) {
            Ok(true) => Ok(()),
            Ok(false) => Err(RoomError::Refused(
                "the data channel's send buffer is full".into(),
            )),
            Err(e) => Err(RoomError::Refused(e.to_string())),
        }
    }

    fn flush_queued_data(&mut self) {
        let now = Instant::now();
        for (delivery, bytes, done, deadline) in std::mem::take(&mut self.queued_data) {
            match self.out_channels.get(&delivery) {
                Some((id, true)) => {
                    let id = *id;
                    let _ = done.send(self.write_channel(id, &bytes));
                }
                _ if now >= deadline => {
                    let _ = done.send(Err(RoomError::NoAnswer(REQUEST_TIMEOUT)));
                }
                _ => self.queued_data.push((delivery, bytes, done, deadline)),
            }
        }
    }

    async fn update_attributes(&mut self, attributes: HashMap<String, String>) -> u32 {
        let request_id = self.signal.next_request_id();
        let update = proto::UpdateParticipantMetadata {
            attributes,
            request_id,
            ..Default::default()
        };
        self.signal.send(Request::UpdateMetadata(update)).await;
        request_id
    }

    async fn on_request_response(&mut self, response: proto::RequestResponse) {
        let ok = response.reason == proto::request_response::Reason::Ok as i32;
        if let Some((reply, _)) = self.requests.remove(&response.request_id) {
            let result = if ok {
                Ok(())
            } else {
                Err(RoomError::Refused(format!(
                    "{:?}: {}",
                    response.reason(),
                    response.message
                )))
            };
            let _ = reply.send(result);
        }
        let leaving_on_this = matches!(&self.leaving, Some(Leaving { stage: LeaveStage::Attributes(id), .. }) if *id == response.request_id);
        if leaving_on_this {
            if !ok {
                tracing::warn!(reason = ?response.reason(), message = response.message, "departure attributes refused");
            }
            self.send_leave().await;
        }
    }

    /// Leaving, step 1: the departure attributes, so every member sees the outcome.
    async fn start_leaving(
        &mut self,
        departure: Option<Departure>,
        done: Option<oneshot::Sender<RoomEnd>>,
    ) {
        if self.leaving.is_some() {
            if let Some(done) = done {
                let _ = done.send(RoomEnd::Lost("already leaving".into()));
            }
            return;
        }
        let stage = match &departure {
            Some(d) => LeaveStage::Attributes(self.update_attributes(d.attributes()).await),
            None => LeaveStage::Goodbye,
        };
        self.leaving = Some(Leaving {
            departure,
            stage,
            deadline: Instant::now() + LEAVE_STEP_TIMEOUT,
            done,
        });
        if matches!(
            self.leaving,
            Some(Leaving {
                stage: LeaveStage::Goodbye,
                ..
            })
        ) {
            self.send_leave().await;
        }
    }

    /// Leaving, step 2: the `LeaveRequest` with our reason.
    async fn send_leave(&mut self) {
        let Some(leaving) = self.leaving.as_mut() else {
            return;
        };
        let reason = leaving
            .departure
            .as_ref()
            .map_or(DisconnectReason::ClientInitiated, |d| d.reason);
        leaving.stage = LeaveStage::Goodbye;
        leaving.deadline = Instant::now() + LEAVE_STEP_TIMEOUT;
        let leave = proto::LeaveRequest {
            reason: reason as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        self.signal.send(Request::Leave(leave)).await;
    }

    fn on_server_leave(&mut self, leave: proto::LeaveRequest) {
        // The server's goodbye to our own LeaveRequest.
        if matches!(
            self.leaving,
            Some(Leaving {
                stage: LeaveStage::Goodbye,
                ..
            })
        ) {
            return self.finish_leaving();
        }
        let reason = leave.reason();
        let action = leave.action();
        tracing::info!(?reason, ?action, "the server ended the participant");
        // RESUME would be answered by the signal close that follows (we resume then); RECONNECT
        // asks for a new participant, which for a call is a new join: the call actor decides.
        if action != proto::leave_request::Action::Resume {
            self.end(RoomEnd::Removed { reason });
        }
    }

    fn finish_leaving(&mut self) {
        if let Some(leaving) = self.leaving.as_mut() {
            let end = match leaving.departure.clone() {
                Some(d) => RoomEnd::Left(d),
                None => RoomEnd::Left(Departure {
                    reason: DisconnectReason::ClientInitiated,
                    status_code: 0,
                    status_reason: String::new(),
                }),
            };
            if let Some(done) = leaving.done.take() {
                let _ = done.send(end.clone());
            }
            self.end(end);
        }
    }

    /// The signal connection dropped: resume it if the server lets us, else report it lost.
    async fn resume_or_end(&mut self, why: String) {
        if self.leaving.is_some() {
            // A closed socket after our LeaveRequest is the server saying goodbye.
            return self.finish_leaving();
        }
        tracing::info!(why, "signal connection lost; resuming");
        let give_up = Instant::now() + RESUME_BUDGET;
        let mut delay = Duration::from_millis(200);
        loop {
            let attempt = tokio::time::timeout_at(
                give_up.into(),
                self.signal
                    .restart(proto::ReconnectReason::RrSignalDisconnected),
            );
            match attempt.await {
                Ok(Ok(_)) => {
                    self.signal.set_reconnected().await;
                    tracing::info!("signal connection resumed");
                    return;
                }
                Ok(Err(livekit_signaling::SignalError::LeaveRequest { reason, .. })) => {
                    return self.end(RoomEnd::Removed { reason });
                }
                Ok(Err(e)) if Instant::now() + delay < give_up => {
                    tracing::debug!(error = %e, "resume attempt failed");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Ok(Err(e)) => {
                    return self.end(RoomEnd::Lost(format!(
                        "signal connection lost ({why}); resume failed: {e}"
                    )));
                }
                Err(_) => {
                    return self.end(RoomEnd::Lost(format!(
                        "signal connection lost ({why}); no resume within {RESUME_BUDGET:?}"
                    )));
                }
            }
        }
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        for peer in [&mut self.publisher, &mut self.subscriber] {
            if now >= peer.deadline {
                let result = peer.timeout(now);
                if let Err(e) = result {
                    tracing::debug!(error = %e, "str0m timeout handling failed");
                }
            }
        }
        self.flush_queued_data();
        self.requests.retain(|_, (_, deadline)| *deadline > now);
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

    /// Hands the collected room events to the call actor.
    async fn dispatch(&mut self) {
        let mut listener_gone = false;
        for event in self.room_events.drain(..) {
            match event {
                // Audio is real time: when the call actor is behind, drop rather than wait.
                RoomEvent::Audio(_) => {
                    let _ = self.events.try_send(event);
                }
                _ => listener_gone |= self.events.send(event).await.is_err(),
            }
        }
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
        self.publisher.rtc.disconnect();
        self.subscriber.rtc.disconnect();
        self.signal.close().await;
        let _ = self.events.send(RoomEvent::Ended(end)).await;
    }
}
