//! From the INVITE to its final response: the phone rings (`sip.callStatus=ringing`), early
//! media reaches the room, ringback plays there with `play_dialtone`, and the INVITE is
//! withdrawn (CANCEL) when the ringing times out, the room closes, the API caller goes away
//! or the bridge shuts down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sipbridge_media::leg::Negotiated;
use sipbridge_signaling::dial::{CancelCause, DialStep, Dialer};
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{EstablishedEnd, OutboundEnd, Outcome};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use tokio::sync::mpsc;

use super::Reply;
use super::ringback::Ringback;
use crate::call::context::CallContext;
use crate::call::leg::MediaLeg;
use crate::call::media::CallMedia;
use crate::call::ports::RtpSockets;
use crate::call::settings::leg_settings;
use crate::call::sip::CallSip;
use crate::room::{RoomEvent, RoomHandle};
use crate::sip::link::CallInput;

/// The longest the dialling loop sleeps with nothing due.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// How dialling ended.
#[derive(Debug)]
pub(super) enum Dialed {
    /// A 2xx to `invite` (the last attempt, after any digest retry): ACK it and start the
    /// call. `leg` is running when early media came first.
    Answered {
        invite: Box<Request>,
        response: Response,
        leg: Option<Box<MediaLeg>>,
        sockets: Option<RtpSockets>,
    },
    /// A 2xx after we had withdrawn the INVITE: ACK it and hang up at once.
    TooLate {
        invite: Box<Request>,
        response: Response,
        outcome: Outcome,
    },
    /// No call. `room_ended`: the participant is already gone (the room closed).
    Ended { outcome: Outcome, room_ended: bool },
}

/// What the dialling loop works with.
pub(super) struct Dialing<'a> {
    pub context: &'a CallContext,
    pub sip: &'a mut CallSip,
    pub room: &'a RoomHandle,
    pub room_events: &'a mut mpsc::Receiver<RoomEvent>,
    pub session: &'a LocalSession,
    pub reply: &'a mut Option<Reply>,
    pub room_name: &'a str,
    pub ringing_timeout: Duration,
    pub play_dialtone: bool,
}

impl Dialing<'_> {
    /// Sends the INVITE and runs until its final response (or the end of trying).
    pub(super) async fn run(self, mut dialer: Dialer, sockets: RtpSockets) -> Dialed {
        let Dialing {
            context,
            sip,
            room,
            room_events,
            session,
            reply,
            room_name,
            ringing_timeout,
            play_dialtone,
        } = self;
        let Some(mut invite_tx) = sip.send_request(dialer.invite().clone()).await else {
            let end = dialer.on_transport_error("the INVITE could not be sent");
            return ended(end.outcome(), false);
        };
        let started = Instant::now();
        let ringing_deadline = started + ringing_timeout;
        // RFC 3261 §9.1: after a CANCEL the INVITE should end with a 487; 64·T1 bounds the wait.
        let cancel_wait = context.config.sip.timers.t1.0 * 64;
        let mut give_up_at: Option<Instant> = None;
        let mut sockets = Some(sockets);
        let mut leg: Option<MediaLeg> = None;
        let mut ringback = if play_dialtone {
            Ringback::new(started, leg_settings(&context.config.rtp).opus)
        } else {
            None
        };
        let mut ringing = false;
        let mut room_ended = false;
        // Set when something other than the table's cancel row decides the outcome.
        let mut overriding: Option<Outcome> = None;
        let outcome_of = |end: OutboundEnd, overriding: &Option<Outcome>| {
            overriding.clone().unwrap_or_else(|| end.outcome())
        };

        loop {
            // Nothing else due: wake for the ringing deadline while it still matters, and
            // otherwise only for what arrives.
            let idle = Instant::now() + IDLE_WAKE;
            let mut wake = leg.as_ref().map_or(idle, MediaLeg::poll_timeout);
            if dialer.cancelling().is_none() {
                wake = wake.min(ringing_deadline);
            }
            if let Some(at) = give_up_at {
                wake = wake.min(at);
            }
            if let Some(ringback) = &ringback {
                wake = wake.min(ringback.poll_timeout());
            }
            let mut cancel = None;
            tokio::select! {
                () = receive(&mut leg) => {}
                () = tokio::time::sleep_until(wake.into()) => {}
                () = api_gone(reply) => {
                    tracing::info!("the API caller went away: cancelling the call");
                    *reply = None;
                    cancel = Some(CancelCause::Caller);
                }
                event = room_events.recv(), if !room_ended => match event {
                    Some(RoomEvent::Ended(_)) | None => {
                        tracing::info!("the participant left before the answer: cancelling the call");
                        room_ended = true;
                        cancel = Some(CancelCause::Caller);
                    }
                    Some(RoomEvent::Audio(audio)) => {
                        if let Some(leg) = &mut leg {
                            leg.media.handle_room_audio(Instant::now(), &audio);
                        }
                    }
                    Some(RoomEvent::TrackRemoved { track_sid, .. }) => {
                        if let Some(leg) = &mut leg {
                            leg.media.remove_track(&track_sid);
                        }
                    }
                    Some(_) => {}
                },
                input = sip.inputs.recv() => match input {
                    Some(CallInput::Response { response, .. }) => {
                        match dialer.on_response(&response, rand::random()) {
                            DialStep::Nothing => {}
                            DialStep::Send(request) if request.method == Method::Invite => {
                                match sip.send_request(*request).await {
                                    Some(id) => invite_tx = id,
                                    None => {
                                        let end = dialer.on_transport_error("the INVITE could not be sent");
                                        return ended(outcome_of(end, &overriding), room_ended);
                                    }
                                }
                            }
                            DialStep::Send(cancel_request) => {
                                sip.send_request(*cancel_request).await;
                                give_up_at = Some(Instant::now() + cancel_wait);
                            }
                            DialStep::Progress { sdp, .. } => {
                                if !ringing {
                                    ringing = true;
                                    set_status(room, "ringing").await;
                                }
                                if let (Some(sdp), None) = (sdp, &leg) {
                                    leg = early_media(context, session, &sdp, &mut sockets, room_name);
                                    if leg.is_some() {
                                        // The phone's own tones now reach the room.
                                        ringback = None;
                                    }
                                }
                            }
                            DialStep::Answered => {
                                let invite = Box::new(dialer.invite().clone());
                                return Dialed::Answered { invite, response, leg: leg.map(Box::new), sockets };
                            }
                            DialStep::AnsweredTooLate(end) => {
                                let outcome = outcome_of(end, &overriding);
                                let invite = Box::new(dialer.invite().clone());
                                return Dialed::TooLate { invite, response, outcome };
                            }
                            DialStep::Ended(end) => return ended(outcome_of(end, &overriding), room_ended),
                        }
                    }
                    Some(CallInput::Timeout { id }) if id == invite_tx => {
                        let end = dialer.on_timeout();
                        return ended(outcome_of(end, &overriding), room_ended);
                    }
                    Some(CallInput::TransportError { id, detail }) if id == invite_tx => {
                        let end = dialer.on_transport_error(&detail);
                        return ended(outcome_of(end, &overriding), room_ended);
                    }
                    Some(CallInput::Shutdown) => {
                        overriding = Some(EstablishedEnd::Shutdown.outcome());
                        cancel = Some(CancelCause::Caller);
                    }
                    None => {
                        let end = dialer.on_transport_error("the SIP endpoint stopped");
                        return ended(outcome_of(end, &overriding), room_ended);
                    }
                    Some(_) => {}
                },
            }
            let now = Instant::now();
            if cancel.is_none() && now >= ringing_deadline && dialer.cancelling().is_none() {
                tracing::info!(?ringing_timeout, "no answer: cancelling the call");
                cancel = Some(CancelCause::RingingTimeout);
            }
            if let Some(cause) = cancel {
                // The call is being withdrawn: the room stops hearing it ring.
                ringback = None;
                if let Some(request) = dialer.cancel(cause) {
                    sip.send_request(request).await;
                    give_up_at = Some(now + cancel_wait);
                }
            }
            if give_up_at.is_some_and(|at| now >= at)
                && let Some(end) = dialer.give_up()
            {
                return ended(outcome_of(end, &overriding), room_ended);
            }
            if let Some(leg) = &mut leg {
                // Before the answer a silent phone is normal: timeouts are not acted on.
                leg.pump(now, room, &context.metrics);
            }
            if let Some(ringback) = &mut ringback {
                ringback.tick(now, room);
            }
        }
    }
}

fn ended(outcome: Outcome, room_ended: bool) -> Dialed {
    Dialed::Ended {
        outcome,
        room_ended,
    }
}

async fn receive(leg: &mut Option<MediaLeg>) {
    match leg {
        Some(leg) => leg.receive().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the API caller stopped waiting for the answer.
async fn api_gone(reply: &mut Option<Reply>) {
    match reply {
        Some(reply) => reply.closed().await,
        None => std::future::pending().await,
    }
}

async fn set_status(room: &RoomHandle, status: &str) {
    let attributes = HashMap::from([("sip.callStatus".to_owned(), status.to_owned())]);
    if let Err(error) = room.set_attributes(attributes).await {
        tracing::debug!(%error, status, "call status not set");
    }
}

/// Starts the SIP leg on a 183's SDP, so the room hears the phone before the answer.
fn early_media(
    context: &CallContext,
    session: &LocalSession,
    sdp: &[u8],
    sockets: &mut Option<RtpSockets>,
    room_name: &str,
) -> Option<MediaLeg> {
    let negotiated = parse_sdp(sdp)
        .and_then(|answer| session.handle_answer(&answer))
        .inspect_err(|error| tracing::info!(%error, "early media SDP not usable"))
        .ok()?;
    let now = Instant::now();
    let media = start_media(context, &negotiated, room_name, now)?;
    Some(MediaLeg::new(media, sockets.take()?, now))
}

/// The media pipeline for a negotiated SIP leg (`None`, logged, if it cannot be made).
pub(super) fn start_media(
    context: &CallContext,
    negotiated: &Negotiated,
    room_name: &str,
    now: Instant,
) -> Option<CallMedia> {
    CallMedia::for_leg(now, negotiated, &context.config.rtp, room_name)
        .inspect_err(|error| tracing::warn!(%error, "media set-up failed"))
        .ok()
}
