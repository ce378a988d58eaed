//! The signal connection: negotiation, trickle, subscriptions, request answers, resume.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livekit_protocol as proto;
use livekit_signaling::SignalEvent;
use proto::signal_request::Message as Request;
use str0m::media::Mid;

use super::RESUME_BUDGET;
use super::leave::{LeaveStage, Leaving};
use crate::room::{RoomEnd, RoomError, RoomEvent, trickle};

impl super::Driver {
    pub(super) async fn on_signal_event(&mut self, event: Option<SignalEvent>) {
        match event {
            Some(SignalEvent::Message(message)) => self.on_signal_message(*message).await,
            Some(SignalEvent::Close(why)) => self.resume_or_end(why.into_owned()).await,
            None => self.resume_or_end("signal client stopped".into()).await,
        }
    }

    pub(super) async fn on_signal_message(&mut self, message: proto::signal_response::Message) {
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
            // Sent once per track, the first time anyone subscribes to it; ours is the
            // only track we publish.
            M::TrackSubscribed(subscribed) => {
                let ours = self.track_sid.as_ref();
                if ours.is_none_or(|sid| *sid == subscribed.track_sid) {
                    self.room_events.push(RoomEvent::Subscribed);
                }
            }
            M::RequestResponse(response) => self.on_request_response(response).await,
            M::Leave(leave) => self.on_server_leave(leave),
            M::RefreshToken(_) | M::Pong(_) | M::PongResp(_) => {}
            other => tracing::trace!(?other, "signal message ignored"),
        }
    }

    pub(super) fn on_publisher_answer(&mut self, answer: proto::SessionDescription) {
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

    pub(super) async fn on_subscriber_offer(&mut self, offer: proto::SessionDescription) {
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
        // The server may reuse an m-line for another track, so the map is rebuilt from each
        // offer that carries one (str0m's MediaAdded fills in from the msid otherwise).
        if !offer.mid_to_track_id.is_empty() {
            self.mid_tracks.clear();
        }
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

    pub(super) fn on_trickle(&mut self, request: proto::TrickleRequest) {
        let target =
            proto::SignalTarget::try_from(request.target).unwrap_or(proto::SignalTarget::Publisher);
        match trickle::parse(&request.candidate_init) {
            Ok(Some(candidate)) => self.peer(target).rtc.add_remote_candidate(candidate),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "server candidate ignored"),
        }
    }

    pub(super) async fn subscribe(&mut self, track_sids: Vec<String>) {
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

    pub(super) async fn update_attributes(&mut self, attributes: HashMap<String, String>) -> u32 {
        let request_id = self.signal.next_request_id();
        let update = proto::UpdateParticipantMetadata {
            attributes,
            request_id,
            ..Default::default()
        };
        self.signal.send(Request::UpdateMetadata(update)).await;
        request_id
    }

    pub(super) async fn on_request_response(&mut self, response: proto::RequestResponse) {
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

    /// The signal connection dropped: resume it if the server lets us, else report it lost.
    pub(super) async fn resume_or_end(&mut self, why: String) {
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
                // A server that does not know the session (one restarted since) refuses the
                // resume: the connection is lost for good, as if nothing had answered.
                Ok(Err(livekit_signaling::SignalError::LeaveRequest {
                    reason: proto::DisconnectReason::StateMismatch,
                    ..
                })) => {
                    return self.end(RoomEnd::Lost(format!(
                        "signal connection lost ({why}); the server could not resume the session"
                    )));
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
}
