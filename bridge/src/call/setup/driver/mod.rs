//! The one driver of a call's set-up, for both directions: it moves what the endpoint, the
//! room, the media, the API caller and the clock say into a [`SetupMachine`] and carries out
//! the actions it gives, until the call is answered (handed to `call::session`, which runs
//! it to its end) or ends (delivered once through `call::end`). No decisions are taken here.

mod inputs;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{Direction, Ending};
use sipbridge_signaling::sdp::Negotiated;
use sipbridge_signaling::transaction::ServerTxId;
use tokio::sync::mpsc;

use super::ringback::Ringback;
use super::sip_side::{SipSide, linger};
use super::{Action, Input, PhoneEnd, SetupMachine};
use crate::call::context::CallContext;
use crate::call::end::{ApiAnswer, CallSinks, PhoneClose, deliver};
use crate::call::leg::MediaLeg;
use crate::call::media::{CallMedia, StreamStart};
use crate::call::ports::RtpSockets;
use crate::call::session::{DialogParts, Established};
use crate::call::settings::{codec_name, leg_settings};
use crate::call::sip::CallSip;
use crate::call::transfer::TransferDesk;
use crate::cdr::{CallRecord, now_ns};
use crate::room::{JoinError, JoinRequest, RoomEvent, RoomHandle, join};
use crate::sip::link::CallInput;

/// The API caller waiting for an outbound call's answer.
pub trait ApiWaiter: Send {
    /// The caller gets its participant (the call is dialling, or answered).
    fn answer(self: Box<Self>);
    /// The caller's answer should the call end first.
    fn into_sink(self: Box<Self>) -> ApiAnswer;
    /// Resolves when the caller stopped waiting.
    fn gone(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The INVITE an inbound call answers: for the final response of a call refused, and to
/// count its final responses.
#[derive(Debug)]
pub struct InboundInvite {
    pub id: ServerTxId,
    pub invite: Request,
    pub local_tag: String,
}

type Joined = (RoomHandle, mpsc::Receiver<RoomEvent>);
type Joining = Pin<Box<dyn Future<Output = Result<Joined, JoinError>> + Send>>;

/// A call being set up: its legs, as far as they exist, and the sinks of its ending.
pub struct Driver {
    context: Arc<CallContext>,
    direction: Direction,
    sip: SipSide,
    record: CallRecord,
    room_name: String,
    sockets: Option<RtpSockets>,
    leg: Option<MediaLeg>,
    room: Option<Joined>,
    /// The room ended our participant: no more room events.
    room_ended: bool,
    /// Asked for by [`Action::JoinRoom`] (inbound: the caller joins once the phone is ours).
    join_request: Option<JoinRequest>,
    joining: Option<Joining>,
    inbound: Option<InboundInvite>,
    api: Option<Box<dyn ApiWaiter>>,
    ringback: Option<Ringback>,
    max_duration: Option<Duration>,
    /// Requests that came before the ACK, for the answered call.
    deferred: Vec<CallInput>,
    transfers: Option<TransferDesk>,
}

/// Where a set-up stopped.
enum Stopped {
    Ready,
    Ended {
        ending: Ending,
        detail: String,
        phone: PhoneEnd,
        leave_room: bool,
    },
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("direction", &self.direction)
            .field("record", &self.record)
            .field("room", &self.room.is_some())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A call with its SIP leg and record; `room_name` names its media in logs and metrics.
    pub fn new(
        context: Arc<CallContext>,
        direction: Direction,
        sip: CallSip,
        record: CallRecord,
        room_name: &str,
    ) -> Self {
        Self {
            context,
            direction,
            sip: SipSide::new(sip),
            record,
            room_name: room_name.to_owned(),
            sockets: None,
            leg: None,
            room: None,
            room_ended: false,
            join_request: None,
            joining: None,
            inbound: None,
            api: None,
            ringback: None,
            max_duration: None,
            deferred: Vec::new(),
            transfers: None,
        }
    }

    /// The RTP sockets the media will use.
    pub fn sockets(mut self, sockets: RtpSockets) -> Self {
        self.sockets = Some(sockets);
        self
    }

    /// Our participant is in the room already (outbound).
    pub fn joined(mut self, joined: Joined) -> Self {
        self.room = Some(joined);
        self
    }

    /// Who joins the room when the machine asks (inbound).
    pub fn join_on_request(mut self, request: JoinRequest) -> Self {
        self.join_request = Some(request);
        self
    }

    pub fn answering(mut self, invite: InboundInvite) -> Self {
        self.inbound = Some(invite);
        self
    }

    pub fn api(mut self, waiter: Box<dyn ApiWaiter>) -> Self {
        self.api = Some(waiter);
        self
    }

    /// `max_call_duration`, from the answer.
    pub fn max_duration(mut self, max: Option<Duration>) -> Self {
        self.max_duration = max;
        self
    }

    /// Runs the set-up, then the answered call, to the call's one ending.
    pub async fn run(mut self, mut machine: impl SetupMachine) {
        match self.set_up(&mut machine).await {
            Stopped::Ready => self.establish(machine).await,
            Stopped::Ended {
                ending,
                detail,
                phone,
                leave_room,
            } => {
                let sip = self
                    .end(&mut machine, &ending, &detail, phone, leave_room)
                    .await;
                linger(sip, machine).await;
            }
        }
    }

    async fn set_up(&mut self, machine: &mut impl SetupMachine) -> Stopped {
        let mut ready = false;
        loop {
            while let Some(action) = machine.poll_action() {
                match action {
                    Action::Ready => {
                        // Listed before anyone can see the call active, so a transfer asked
                        // for at once finds it.
                        self.transfers = Some(TransferDesk::list(&self.context, &self.record));
                        ready = true;
                    }
                    Action::End {
                        ending,
                        detail,
                        phone,
                        leave_room,
                    } => {
                        return Stopped::Ended {
                            ending,
                            detail,
                            phone,
                            leave_room,
                        };
                    }
                    action => self.carry_out(machine, action).await,
                }
            }
            if ready {
                return Stopped::Ready;
            }
            self.next_input(machine).await;
        }
    }

    async fn carry_out(&mut self, machine: &mut impl SetupMachine, action: Action) {
        let now = Instant::now();
        match action {
            Action::Respond { id, response } => self.respond(id, response).await,
            Action::SendRequest(request) => {
                if let Some(failed) = self.sip.send_plain(*request).await {
                    machine.handle_input(now, failed);
                }
            }
            Action::Send(request) => {
                if let Some(failed) = self.sip.send_in_dialog(request).await {
                    machine.handle_input(now, failed);
                }
            }
            Action::SendAck(ack) => self.sip.sip.send_ack(ack).await,
            Action::StartMedia(negotiated) => {
                let input = match self.start_media(now, &negotiated) {
                    Ok(()) => Input::MediaStarted,
                    Err(detail) => Input::MediaFailed(detail),
                };
                machine.handle_input(now, input);
            }
            Action::JoinRoom => {
                let room = self.context.clone();
                self.joining = self.join_request.take().map(|request| {
                    Box::pin(async move { join(&room.room, request).await }) as Joining
                });
            }
            Action::Prompt(tone) => {
                if let Some(leg) = &mut self.leg {
                    leg.media.set_prompt(tone);
                }
            }
            Action::Ringback(on) => {
                let opus = leg_settings(&self.context.config.rtp).opus;
                self.ringback = on.then(|| Ringback::new(now, opus)).flatten();
            }
            Action::SetAttributes(attributes) => {
                if let Some((room, _)) = &self.room
                    && let Err(error) = room.set_attributes(attributes).await
                {
                    tracing::debug!(%error, "call status not set");
                }
            }
            Action::AnswerApi => {
                if let Some(waiter) = self.api.take() {
                    waiter.answer();
                }
            }
            Action::SendDigits(digits) => {
                if let Some(leg) = &mut self.leg
                    && !leg.media.send_dtmf(&digits)
                {
                    tracing::warn!("the dtmf digits could not be queued");
                }
            }
            Action::Defer { id, request } => {
                self.deferred.push(CallInput::Request { id, request });
            }
            // The set-up loop's own.
            Action::Ready | Action::End { .. } => {}
        }
    }

    /// Sends a response; an inbound INVITE's final ones are counted, and its 2xx starts
    /// the call.
    async fn respond(&mut self, id: ServerTxId, response: Response) {
        if let Some(inbound) = &self.inbound
            && id == inbound.id
            && response.code >= 200
        {
            self.context.metrics.inbound_invite(response.code);
            if response.code < 300 {
                self.record.update(|info| info.started_at_ns = now_ns());
            }
        }
        self.sip.sip.respond(id, response).await;
    }

    /// The phone's media for `negotiated`: the running leg renegotiated, or a new one on
    /// the call's RTP sockets. Its codec goes in the record.
    fn start_media(&mut self, now: Instant, negotiated: &Negotiated) -> Result<(), String> {
        let codec = codec_name(negotiated.codec);
        if let Some(leg) = &mut self.leg {
            leg.media
                .renegotiate(now, negotiated, StreamStart::random())
                .map_err(|error| error.to_string())?;
        } else {
            let rtp = &self.context.config.rtp;
            let media = CallMedia::for_leg(now, negotiated, rtp, &self.room_name)
                .map_err(|error| error.to_string())?;
            let sockets = self.sockets.take().ok_or("the RTP sockets are in use")?;
            self.leg = Some(MediaLeg::new(media, sockets, now));
        }
        self.record
            .update(|info| info.audio_codec = codec.to_owned());
        Ok(())
    }

    /// The answered call takes over, with what came before the ACK as its first business.
    async fn establish(self, machine: impl SetupMachine) {
        let Driver {
            context,
            direction,
            sip,
            mut record,
            leg,
            room,
            max_duration,
            deferred,
            transfers,
            ..
        } = self;
        let (Some(answered), Some(room), Some(leg), Some(transfers)) =
            (machine.into_answered(), room, leg, transfers)
        else {
            // A machine is ready only with all of them; if not, the record says so (cdr's
            // drop).
            tracing::error!("an answered call without its dialog, room or media");
            return;
        };
        let sip = sip.sip;
        sip.requeue(deferred);
        record.update(|info| {
            if info.started_at_ns == 0 {
                info.started_at_ns = now_ns();
            }
        });
        let parts = DialogParts {
            dialog: answered.dialog,
            session: answered.session,
            max_duration,
            ack: answered.ack,
        };
        Established::new(&context, sip, leg, room, transfers, parts)
            .run_to_end(&context, direction, record)
            .await;
    }

    /// Ends a call never established: one outcome to the phone, the room (if our
    /// participant is in it and the room did not end it), the API caller, the record and
    /// the metric. The SIP leg is left for a transaction still running.
    async fn end(
        mut self,
        machine: &mut impl SetupMachine,
        ending: &Ending,
        detail: &str,
        phone: PhoneEnd,
        leave_room: bool,
    ) -> SipSide {
        if let Some(leg) = &mut self.leg {
            leg.finish(&self.context.metrics);
        }
        let inbound = self.inbound.as_ref();
        let phone = match (phone, inbound) {
            (PhoneEnd::Decline(headers), Some(inbound)) => PhoneClose::Decline {
                id: inbound.id,
                invite: &inbound.invite,
                local_tag: &inbound.local_tag,
                headers,
            },
            (PhoneEnd::Silence, Some(inbound)) => PhoneClose::Silence(inbound.id),
            (PhoneEnd::Bye, _) => machine
                .dialog_mut()
                .map_or(PhoneClose::Nothing, PhoneClose::Bye),
            _ => PhoneClose::Nothing,
        };
        let room = self
            .room
            .take()
            .filter(|_| leave_room)
            .map(|(room, _)| room);
        let api = self.api.take().map(ApiWaiter::into_sink);
        let sinks = CallSinks::new(
            &self.context,
            self.direction,
            Some(&self.sip.sip),
            self.record,
        )
        .room(room)
        .api(api);
        deliver(ending, detail, phone, sinks).await;
        self.sip
    }
}
