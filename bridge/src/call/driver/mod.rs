//! The one driver of a call, for both directions and every phase: it moves what the
//! endpoint, the room, the media, the API caller, the transfer orders and the clock say into
//! the call's [`CallMachine`] and carries out the actions it gives. The set-up's machine
//! (`inbound::setup`, `outbound::placing`) runs until the call is answered, then
//! `call::answered` until the end; the one ending is delivered through `call::end`. No
//! decisions are taken here.

mod attribute_headers;
mod inputs;
mod pin_check;
mod ringback;
mod rpc;
mod sip_side;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sipbridge_signaling::dialog::Dialog;
use sipbridge_signaling::message::{Method, Request, Response};
use sipbridge_signaling::outcome::{Direction, Ending};
use sipbridge_signaling::sdp::Negotiated;
use sipbridge_signaling::transaction::ServerTxId;
use tokio::sync::mpsc;

use crate::call::answered::{self, Answered};
use crate::call::context::CallContext;
use crate::call::end::{ApiAnswer, CallSinks, PhoneClose, deliver};
use crate::call::identities::IdentityClaim;
use crate::call::leg::MediaLeg;
use crate::call::machine::{Action, CallMachine, Input, PhoneEnd};
use crate::call::media::{CallMedia, StreamStart};
use crate::call::ports::RtpSockets;
use crate::call::settings::{codec_name, leg_settings};
use crate::call::sip::CallSip;
use crate::call::transfer::TransferDesk;
use crate::cdr::CallRecord;
use crate::cdr::hangup::KeptBye;
use crate::room::{Delivery, JoinError, JoinRequest, Payload, RoomEvent, RoomHandle, join};
use crate::sip::link::CallInput;
use attribute_headers::attribute_headers;
use ringback::Ringback;
use sip_side::{SipSide, linger};

pub use pin_check::{PinChecker, PinChecking, PinPass, PinVerdict};

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

/// How the phone hears of the end: the final response to `inbound` (or no answer at all,
/// for a call we were answering), BYE in `dialog`, or nothing.
pub fn phone_close<'a>(
    phone: PhoneEnd,
    inbound: Option<&'a InboundInvite>,
    dialog: Option<&'a mut Dialog>,
) -> PhoneClose<'a> {
    match (phone, inbound) {
        (PhoneEnd::Decline(headers), Some(inbound)) => PhoneClose::Decline {
            id: inbound.id,
            invite: &inbound.invite,
            local_tag: &inbound.local_tag,
            headers,
        },
        (PhoneEnd::Silence, Some(inbound)) => PhoneClose::Silence(inbound.id),
        (PhoneEnd::Bye, _) => {
            dialog.map_or(PhoneClose::Nothing, |d| PhoneClose::Bye(d, Vec::new()))
        }
        (PhoneEnd::ByeWith(headers), _) => {
            dialog.map_or(PhoneClose::Nothing, |d| PhoneClose::Bye(d, headers))
        }
        _ => PhoneClose::Nothing,
    }
}

type Joined = (RoomHandle, mpsc::Receiver<RoomEvent>);
type Joining = Pin<Box<dyn Future<Output = Result<Joined, JoinError>> + Send>>;

/// A call: its legs, as far as they exist, and the sinks of its ending.
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
    /// Checks the PIN when livekit-server knows it ([`Action::CheckPin`]).
    pin_checker: Option<Box<dyn PinChecker>>,
    pin_checking: Option<PinChecking>,
    inbound: Option<InboundInvite>,
    api: Option<Box<dyn ApiWaiter>>,
    ringback: Option<Ringback>,
    max_duration: Option<Duration>,
    /// The identity our participant holds in its room (inbound), until the call ends.
    identity: Option<IdentityClaim>,
    /// Requests that came before the ACK, for the answered call.
    deferred: Vec<CallInput>,
    /// From the answer on: the call is listed for transfers.
    transfers: Option<TransferDesk>,
    /// The far end's 2xx to our INVITE, as it came (outbound): `lk.sip.GetRemoteHeaders`.
    remote_answer: Option<Vec<u8>>,
    /// This call's `rtp:` settings when they are not the YAML's (the API caller's codecs and
    /// media timeout).
    rtp: Option<sipbridge_config::Rtp>,
    /// The trunk's `attributes_to_headers`: (attribute, header) for our BYE and REFER.
    attributes_to_headers: Vec<(String, String)>,
    /// Our participant's attributes as the server last reported them.
    own_attributes: HashMap<String, String>,
}

/// Where a machine stopped.
enum Stopped {
    /// The set-up is done: the answered call takes over.
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
            pin_checker: None,
            pin_checking: None,
            inbound: None,
            api: None,
            ringback: None,
            max_duration: None,
            identity: None,
            deferred: Vec::new(),
            transfers: None,
            remote_answer: None,
            rtp: None,
            attributes_to_headers: Vec::new(),
            own_attributes: HashMap::new(),
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

    /// Who checks a PIN the bridge does not know (inbound, cluster mode).
    pub fn pin_checker(mut self, checker: Option<Box<dyn PinChecker>>) -> Self {
        self.pin_checker = checker;
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

    /// This call's own `rtp:` settings (outbound: the API caller's `media`).
    pub fn rtp(mut self, rtp: sipbridge_config::Rtp) -> Self {
        self.rtp = Some(rtp);
        self
    }

    /// The trunk's `attributes_to_headers`: our participant's attributes that go on our BYE
    /// and REFER as SIP headers, (attribute, header).
    pub fn attributes_to_headers(mut self, mapping: Vec<(String, String)>) -> Self {
        self.attributes_to_headers = mapping;
        self
    }

    /// `max_call_duration`, from the answer.
    pub fn max_duration(mut self, max: Option<Duration>) -> Self {
        self.max_duration = max;
        self
    }

    /// Runs the set-up, then the answered call, to the call's one ending.
    pub async fn run(mut self, mut setup: impl CallMachine) {
        match self.drive(&mut setup).await {
            Stopped::Ready => match self.answered_call(setup) {
                Some(call) => self.run_answered(call).await,
                // A machine is ready only with them; if not, the record says so (cdr's drop).
                None => tracing::error!("an answered call without its dialog, room or media"),
            },
            Stopped::Ended {
                ending,
                detail,
                phone,
                leave_room,
            } => {
                let sip = self
                    .end(&mut setup, &ending, &detail, phone, leave_room)
                    .await;
                linger(sip, setup).await;
            }
        }
    }

    /// Carries out the machine's actions and feeds it inputs until it is ready or ends.
    async fn drive(&mut self, machine: &mut impl CallMachine) -> Stopped {
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

    /// The answered call, from what its set-up leaves; its clock starts now. What came
    /// before the ACK is its first business.
    fn answered_call(&mut self, setup: impl CallMachine) -> Option<Answered> {
        let handover = setup.into_handover()?;
        if self.leg.is_none() || self.room.is_none() {
            return None;
        }
        let now = Instant::now();
        if let Some(leg) = &mut self.leg {
            leg.media.restart_media_timeout(now);
        }
        self.sip.sip.requeue(std::mem::take(&mut self.deferred));
        self.record.answered();
        let via = self.context.local.via(self.sip.sip.transport);
        if let Some(bye) = KeptBye::of(&handover.dialog, via, self.sip.sip.source) {
            self.record.keep_bye(bye);
        }
        let setup = answered::Setup {
            dialog: handover.dialog,
            session: handover.session,
            local: self.context.local.clone(),
            transport: self.sip.sip.transport,
            max_duration: self.max_duration,
            ack: handover.ack,
        };
        Some(Answered::new(setup, now))
    }

    /// The answered call to its end: counted in `active_calls` meanwhile, its duration
    /// observed, its one outcome delivered.
    async fn run_answered(mut self, mut call: Answered) {
        let metrics = self.context.metrics.clone();
        let answered_at = Instant::now();
        metrics.active_calls.inc();
        let stopped = self.drive(&mut call).await;
        metrics.active_calls.dec();
        metrics
            .call_duration
            .get_or_create(&vec![("direction", self.direction.as_str())])
            .observe(answered_at.elapsed().as_secs_f64());
        // The answered call never asks for a hand-over: it stops only with its end.
        if let Stopped::Ended {
            ending,
            detail,
            phone,
            leave_room,
        } = stopped
        {
            self.end(&mut call, &ending, &detail, phone, leave_room)
                .await;
        }
    }

    /// The SIP and media actions, whose results go back to the machine; the others in
    /// [`Driver::carry_out_for_room`].
    async fn carry_out(&mut self, machine: &mut impl CallMachine, action: Action) {
        let now = Instant::now();
        let back = match action {
            Action::Respond { id, response } => {
                self.respond(id, response).await;
                None
            }
            Action::SendRequest(request) => self.sip.send_plain(*request).await,
            Action::Send(mut request) => {
                if matches!(request.request.method, Method::Bye | Method::Refer) {
                    self.add_attribute_headers(&mut request.request.head.other);
                }
                self.sip.send_in_dialog(request).await
            }
            Action::SendAck(ack) => {
                self.sip.sip.send_ack(ack).await;
                None
            }
            Action::StartMedia(negotiated) => match self.start_media(now, &negotiated) {
                Ok(()) => Some(Input::MediaStarted),
                Err(detail) => Some(Input::MediaFailed(detail)),
            },
            Action::Renegotiate { negotiated, reply } => self.renegotiate(&negotiated, reply),
            Action::Defer { id, request } => {
                self.deferred.push(CallInput::Request { id, request });
                None
            }
            Action::CheckPin(keys) => match &self.pin_checker {
                Some(checker) => {
                    self.pin_checking = Some(checker.check(keys));
                    None
                }
                None => Some(Input::PinChecked(Ok(false))),
            },
            action => {
                self.carry_out_for_room(action).await;
                None
            }
        };
        if let Some(input) = back {
            machine.handle_input(now, input);
        }
    }

    /// The caller joins with the identity the rule gave it unless another of our calls holds
    /// it in that room (`call::identities`); the record says which it got.
    fn claim_identity(&mut self, mut request: JoinRequest) -> JoinRequest {
        let claim = self
            .context
            .identities
            .claim(&request.room, &request.who.identity);
        if claim.identity() != request.who.identity {
            request.who.identity = claim.identity().to_owned();
            self.record
                .update(|info| info.participant_identity = request.who.identity.clone());
        }
        self.identity = Some(claim);
        request
    }

    /// The actions toward the room, the API caller and the media's extras.
    async fn carry_out_for_room(&mut self, action: Action) {
        match action {
            Action::JoinRoom => {
                if let Some(request) = self.join_request.take() {
                    let request = self.claim_identity(request);
                    let room = self.context.clone();
                    self.joining =
                        Some(Box::pin(async move { join(&room.room, request).await }) as Joining);
                }
            }
            Action::SetAttributes(attributes) => {
                if let Some((room, _)) = &self.room
                    && let Err(error) = room.set_attributes(attributes).await
                {
                    tracing::debug!(%error, "call status not set");
                }
            }
            Action::KeyToRoom { code, digit } => {
                if let Some((room, _)) = &self.room {
                    let payload = Payload::Dtmf { code, digit };
                    if let Err(error) = room
                        .send_data(payload, Delivery::Reliable, Vec::new())
                        .await
                    {
                        tracing::debug!(%error, "DTMF not delivered to the room");
                    }
                }
            }
            Action::Ringback(on) => {
                let opus = leg_settings(&self.context.config.rtp).opus;
                self.ringback = on.then(|| Ringback::new(Instant::now(), opus)).flatten();
            }
            Action::AnswerApi => {
                if let Some(waiter) = self.api.take() {
                    waiter.answer();
                }
            }
            Action::TransferEnded {
                transfer_id,
                end,
                label,
            } => {
                if let Some(transfers) = &mut self.transfers {
                    transfers.ended(&transfer_id, end, label, &self.context.metrics);
                }
            }
            action => self.carry_out_for_media(action),
        }
    }

    fn carry_out_for_media(&mut self, action: Action) {
        let Some(leg) = &mut self.leg else {
            return;
        };
        match action {
            Action::Prompt(tone) => leg.media.set_prompt(tone),
            Action::SendDigits(digits) if !leg.media.send_dtmf(&digits) => {
                tracing::warn!("the dtmf digits could not be queued");
            }
            // Carried out elsewhere; Ready and End are the loop's own.
            _ => {}
        }
    }

    /// Applies a new negotiation to the running media; with `reply`, the machine hears
    /// whether it took.
    fn renegotiate(
        &mut self,
        negotiated: &Negotiated,
        reply: Option<(ServerTxId, Box<Request>, String)>,
    ) -> Option<Input> {
        let now = Instant::now();
        let applied = self.leg.as_mut().is_some_and(|leg| {
            leg.media
                .renegotiate(now, negotiated, StreamStart::random())
                .inspect_err(|error| tracing::warn!(%error, "new media negotiation not applied"))
                .is_ok()
        });
        let (id, request, answer) = reply?;
        Some(Input::Renegotiated {
            id,
            request,
            answer,
            applied,
        })
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
                self.record.answered();
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
            let rtp = self.rtp.as_ref().unwrap_or(&self.context.config.rtp);
            let media = CallMedia::for_leg(now, negotiated, rtp, &self.room_name)
                .map_err(|error| error.to_string())?;
            let sockets = self.sockets.take().ok_or("the RTP sockets are in use")?;
            self.leg = Some(MediaLeg::new(media, sockets, now));
        }
        self.record
            .update(|info| info.audio_codec = codec.to_owned());
        Ok(())
    }

    /// Ends the call: one outcome to the phone, the room (if our participant is in it and
    /// the room did not end it), the API caller still waiting, the record and the metric.
    /// The SIP leg is left for a transaction still running.
    async fn end(
        mut self,
        machine: &mut impl CallMachine,
        ending: &Ending,
        detail: &str,
        phone: PhoneEnd,
        leave_room: bool,
    ) -> SipSide {
        if let Some(leg) = &mut self.leg {
            leg.finish(&self.context.metrics);
        }
        let mut phone = phone_close(phone, self.inbound.as_ref(), machine.dialog_mut());
        if let PhoneClose::Bye(_, headers) = &mut phone {
            headers.extend(attribute_headers(
                &self.attributes_to_headers,
                &self.own_attributes,
            ));
        }
        // The events stay open until the participant has left: a participant whose events
        // nobody reads leaves on its own, without the departure.
        let (room, _events) = self.room.take().unzip();
        let room = room.filter(|_| leave_room);
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
