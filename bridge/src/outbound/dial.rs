//! From the INVITE to its final response: the phone rings (`sip.callStatus=ringing`), early
//! media reaches the room, ringback plays there with `play_dialtone`, and the INVITE is
//! withdrawn (CANCEL) when the ringing times out, the room closes, the API caller goes away
//! or the bridge shuts down.

use std::time::{Duration, Instant};

use sipbridge_signaling::dial::{CancelCause, DialStep, DialTimeout, Dialer};
use sipbridge_signaling::dialog::{Dialog, OutgoingRequest, TimerConfig};
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{CallStatus, Ending, EstablishedEnd, OutboundEnd};
use sipbridge_signaling::sdp::{LocalSession, Negotiated, parse as parse_sdp};
use sipbridge_signaling::transaction::ClientTxId;
use tokio::sync::mpsc;

use super::Reply;
use super::ringback::Ringback;
use crate::call::context::CallContext;
use crate::call::leg::MediaLeg;
use crate::call::media::CallMedia;
use crate::call::ports::RtpSockets;
use crate::call::settings::leg_settings;
use crate::call::sip::CallSip;
use crate::room::{RoomEvent, RoomHandle, attributes};
use crate::sip::link::CallInput;

/// The longest the dialling loop sleeps with nothing due.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// After our CANCEL, how long the far end has to end the INVITE (normally with 487) before
/// the call ends without it: the API caller and the record should not wait 64·T1 for a far
/// end that never answers the CANCEL. The transaction layer absorbs whatever comes later.
const CANCEL_GRACE: Duration = Duration::from_secs(4);

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
        ending: Ending,
    },
    /// No call. `room_ended`: the participant is already gone (the room closed).
    /// `linger`: the INVITE transaction is still running (the call ended before its final
    /// response), so a late 2xx must still be ACKed and hung up.
    Ended {
        ending: Ending,
        room_ended: bool,
        linger: Option<Box<Dialer>>,
    },
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

/// The dialling loop's state between wake-ups.
struct DialLoop<'a> {
    io: Dialing<'a>,
    dialer: Dialer,
    invite_tx: ClientTxId,
    sockets: Option<RtpSockets>,
    /// Early media: the phone's 183 brought an answer.
    leg: Option<MediaLeg>,
    ringback: Option<Ringback>,
    ringing: bool,
    room_ended: bool,
    /// Set when something other than the table's cancel row decides the outcome (shutdown).
    overriding: Option<Ending>,
}

impl Dialing<'_> {
    /// Sends the INVITE and runs until its final response (or the end of trying).
    pub(super) async fn run(self, mut dialer: Dialer, sockets: RtpSockets) -> Dialed {
        let Some(invite_tx) = self.sip.send_request(dialer.invite().clone()).await else {
            let end = dialer.on_transport_error("the INVITE could not be sent");
            return ended(end.into(), false);
        };
        let started = Instant::now();
        let opus = leg_settings(&self.context.config.rtp).opus;
        let ringback = self
            .play_dialtone
            .then(|| Ringback::new(started, opus))
            .flatten();
        let grace = CANCEL_GRACE.min(self.context.config.sip.timers.t1.0 * 64);
        let dialer = dialer.with_timers(started, self.ringing_timeout, grace);
        let state = DialLoop {
            io: self,
            dialer,
            invite_tx,
            sockets: Some(sockets),
            leg: None,
            ringback,
            ringing: false,
            room_ended: false,
            overriding: None,
        };
        state.run().await
    }
}

impl DialLoop<'_> {
    async fn run(mut self) -> Dialed {
        loop {
            let wake = self.wake();
            let io = &mut self.io;
            let cancel = tokio::select! {
                () = MediaLeg::receive_if_any(self.leg.as_mut()) => None,
                () = tokio::time::sleep_until(wake.into()) => None,
                () = api_gone(io.reply) => {
                    tracing::info!("the API caller went away: cancelling the call");
                    *io.reply = None;
                    Some(CancelCause::Caller)
                }
                event = io.room_events.recv(), if !self.room_ended => self.on_room_event(event),
                input = io.sip.inputs.recv() => match self.on_sip(input).await {
                    Ok(cancel) => cancel,
                    Err(dialed) => return *dialed,
                },
            };
            if let Some(end) = self.after_wake(cancel).await {
                return self.linger(end);
            }
        }
    }

    /// The dialler's timers, the media's, the ringback's; with nothing due, a second.
    fn wake(&self) -> Instant {
        let idle = Instant::now() + IDLE_WAKE;
        let wake = self.leg.as_ref().map_or(idle, MediaLeg::poll_timeout);
        let timers = [
            self.dialer.poll_timeout(),
            self.ringback.as_ref().map(Ringback::poll_timeout),
        ];
        timers.into_iter().flatten().fold(wake, Instant::min)
    }

    fn on_room_event(&mut self, event: Option<RoomEvent>) -> Option<CancelCause> {
        let now = Instant::now();
        match (event, self.leg.as_mut()) {
            (Some(RoomEvent::Ended(_)) | None, _) => {
                tracing::info!("the participant left before the answer: cancelling the call");
                self.room_ended = true;
                return Some(CancelCause::Caller);
            }
            (Some(RoomEvent::Audio(audio)), Some(leg)) => leg.media.handle_room_audio(now, &audio),
            (Some(RoomEvent::TrackRemoved { track_sid, .. }), Some(leg)) => {
                leg.media.remove_track(&track_sid)
            }
            (Some(_), _) => {}
        }
        None
    }

    /// A SIP input: a CANCEL to send, or (`Err`) the end of dialling.
    async fn on_sip(
        &mut self,
        input: Option<CallInput>,
    ) -> Result<Option<CancelCause>, Box<Dialed>> {
        let end = match input {
            Some(CallInput::Response { response, .. }) => {
                return self.on_response(response).await.map(|()| None);
            }
            Some(CallInput::Timeout { id }) if id == self.invite_tx => self.dialer.on_timeout(),
            Some(CallInput::TransportError { id, detail }) if id == self.invite_tx => {
                self.dialer.on_transport_error(&detail)
            }
            Some(CallInput::Shutdown) => {
                self.overriding = Some(EstablishedEnd::Shutdown.into());
                return Ok(Some(CancelCause::Caller));
            }
            None => self.dialer.on_transport_error("the SIP endpoint stopped"),
            Some(_) => return Ok(None),
        };
        Err(Box::new(ended(self.ending(end), self.room_ended)))
    }

    async fn on_response(&mut self, response: Response) -> Result<(), Box<Dialed>> {
        let dialed = match self.dialer.on_response(&response, rand::random()) {
            DialStep::Nothing => return Ok(()),
            DialStep::Send(request) if request.method == Method::Invite => {
                match self.io.sip.send_request(*request).await {
                    Some(id) => {
                        self.invite_tx = id;
                        return Ok(());
                    }
                    None => {
                        let end = self
                            .dialer
                            .on_transport_error("the INVITE could not be sent");
                        ended(self.ending(end), self.room_ended)
                    }
                }
            }
            DialStep::Send(cancel) => {
                self.io.sip.send_request(*cancel).await;
                return Ok(());
            }
            DialStep::Progress { sdp, .. } => {
                self.progress(sdp).await;
                return Ok(());
            }
            DialStep::Answered => Dialed::Answered {
                invite: Box::new(self.dialer.invite().clone()),
                response,
                leg: self.leg.take().map(Box::new),
                sockets: self.sockets.take(),
            },
            DialStep::AnsweredTooLate(end) => Dialed::TooLate {
                invite: Box::new(self.dialer.invite().clone()),
                response,
                ending: self.ending(end),
            },
            DialStep::Ended(end) => ended(self.ending(end), self.room_ended),
        };
        Err(Box::new(dialed))
    }

    /// The phone rings (`sip.callStatus=ringing`); a 183's SDP starts early media, and the
    /// phone's own tones then replace our ringback.
    async fn progress(&mut self, sdp: Option<bytes::Bytes>) {
        if !self.ringing {
            self.ringing = true;
            set_status(self.io.room, CallStatus::Ringing).await;
        }
        if let (Some(sdp), None) = (sdp, &self.leg) {
            let io = &self.io;
            self.leg = early_media(
                io.context,
                io.session,
                &sdp,
                &mut self.sockets,
                io.room_name,
            );
            if self.leg.is_some() {
                self.ringback = None;
            }
        }
    }

    /// A CANCEL asked for, the dialler's timers (the ringing timeout, the CANCEL's grace),
    /// and the media due. The call ends (`Some`) when time is up before the INVITE's final
    /// response.
    async fn after_wake(&mut self, cancel: Option<CancelCause>) -> Option<OutboundEnd> {
        let now = Instant::now();
        if let Some(cause) = cancel {
            // The call is being withdrawn: the room stops hearing it ring.
            self.ringback = None;
            if let Some(request) = self.dialer.cancel(cause) {
                self.io.sip.send_request(request).await;
            }
        }
        match self.dialer.handle_timeout(now) {
            DialTimeout::Nothing => {}
            DialTimeout::Cancel(request) => {
                tracing::info!(timeout = ?self.io.ringing_timeout, "no answer: cancelling the call");
                self.ringback = None;
                self.io.sip.send_request(*request).await;
            }
            DialTimeout::GiveUp(end) => {
                tracing::info!(?end, "no final response in time: ending the call");
                return Some(end);
            }
        }
        if let Some(leg) = &mut self.leg {
            // Before the answer a silent phone is normal: timeouts are not acted on.
            leg.pump(now, Some(self.io.room), &self.io.context.metrics);
        }
        if let Some(ringback) = &mut self.ringback {
            ringback.tick(now, self.io.room);
        }
        None
    }

    fn ending(&self, end: OutboundEnd) -> Ending {
        self.overriding.clone().unwrap_or_else(|| end.into())
    }

    /// The call ends with `end` while the INVITE transaction goes on (see [`linger`]).
    fn linger(self, end: OutboundEnd) -> Dialed {
        lingering(self.ending(end), self.room_ended, self.dialer)
    }
}

fn ended(ending: Ending, room_ended: bool) -> Dialed {
    Dialed::Ended {
        ending,
        room_ended,
        linger: None,
    }
}

/// The call is over but the INVITE transaction is not (see [`linger`]).
fn lingering(ending: Ending, room_ended: bool, dialer: Dialer) -> Dialed {
    Dialed::Ended {
        ending,
        room_ended,
        linger: Some(Box::new(dialer)),
    }
}

/// After the call ended without the INVITE's final response: until the transaction ends
/// (64·T1 at most), a provisional response gets the CANCEL that waited for it (§9.1) and a
/// 2xx is ACKed and hung up at once (§15), so no call is left up at the far end.
pub(super) async fn linger(context: &CallContext, sip: &mut CallSip, mut dialer: Dialer) {
    let until = Instant::now() + context.config.sip.timers.t1.0 * 64;
    let sleep = tokio::time::sleep_until(until.into());
    tokio::pin!(sleep);
    loop {
        let response = tokio::select! {
            () = &mut sleep => return,
            input = sip.inputs.recv() => match input {
                Some(CallInput::Response { response, .. }) => response,
                Some(CallInput::Timeout { .. } | CallInput::TransportError { .. }) | None => return,
                Some(_) => continue,
            },
        };
        if response.head.cseq.method != Method::Invite {
            continue;
        }
        if (200..300).contains(&response.code) {
            hang_up_late_answer(context, sip, dialer.invite(), &response).await;
            return;
        }
        if response.code >= 300 {
            return;
        }
        if let DialStep::Send(cancel) = dialer.on_response(&response, rand::random()) {
            sip.send_request(*cancel).await;
        }
    }
}

/// ACKs a 2xx to our INVITE and forms its dialog (RFC 3261 §13.2.2.4); the ACK is returned
/// too, for the 2xx's retransmissions. `None` when the 2xx cannot form a dialog.
pub(super) async fn acknowledge(
    context: &CallContext,
    sip: &CallSip,
    invite: &Request,
    response: &Response,
) -> Option<(Dialog, OutgoingRequest)> {
    let timers = TimerConfig {
        we_refresh: false,
        ..TimerConfig::default()
    };
    let dialog = Dialog::new_uac(invite, response, timers, Instant::now())
        .inspect_err(|error| tracing::warn!(%error, "the 2xx cannot form a dialog"))
        .ok()?;
    let via = context.local.via(sip.transport);
    let ack = dialog
        .build_ack(response, via, None)
        .inspect_err(|error| tracing::warn!(%error, "cannot build the ACK"))
        .ok()?;
    sip.send_ack(ack.clone()).await;
    Some((dialog, ack))
}

/// ACKs a 2xx nobody wants any more and sends BYE in its dialog.
async fn hang_up_late_answer(
    context: &CallContext,
    sip: &CallSip,
    invite: &Request,
    response: &Response,
) {
    tracing::info!("a 2xx after the call ended: ACK and BYE");
    if let Some((mut dialog, _)) = acknowledge(context, sip, invite, response).await {
        sip.send_bye(&mut dialog, &context.local).await;
    }
}

/// Resolves when the API caller stopped waiting for the answer.
async fn api_gone(reply: &mut Option<Reply>) {
    match reply {
        Some(reply) => reply.closed().await,
        None => std::future::pending().await,
    }
}

async fn set_status(room: &RoomHandle, status: CallStatus) {
    if let Err(error) = room.set_attributes(attributes::call_status(status)).await {
        tracing::debug!(%error, ?status, "call status not set");
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
