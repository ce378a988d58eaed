//! One inbound call, from its INVITE to its outcome: admission (limits, trunk, auth, rule),
//! the SDP answer, 180 while the participant joins (or, with a PIN, 200 and the PIN first),
//! 200 once it has, then the established call. Every way it can stop is a [`Stop`] carrying
//! an [`Ending`], and [`InboundCall::end`] is the one place a call that never got established
//! ends (the established call ends in `call::session`); both deliver through `call::end`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use sipbridge_config::Config;
use sipbridge_signaling::dialog::{Dialog, LocalParty, Tag, TimerConfig};
use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{Direction, Ending, InboundRejection, SetupFailure};
use sipbridge_signaling::sdp::LocalSession;
use sipbridge_signaling::transaction::ServerTxId;

use super::admit::{Admitted, Refusal, admit};
use super::identity::{admitted_info, call_info};
use super::routing::{CallAddress, room_name};
use crate::call::context::CallContext;
use crate::call::end::{CallSinks, PhoneClose, deliver};
use crate::call::leg::MediaLeg;
use crate::call::sip::CallSip;
use crate::cdr::CallRecord;
use crate::room::RoomHandle;
use crate::sip::link::{DialogKey, NewCall};

/// Why the set-up of a call stopped: its ending, a detail for the record, and the extra
/// headers of the INVITE's final response (when it is still unanswered).
#[derive(Debug)]
pub(super) struct Stop {
    pub ending: Ending,
    pub detail: String,
    pub headers: Vec<(&'static str, String)>,
    /// No answer at all (`hide_inbound_port`).
    pub silent: bool,
}

impl Stop {
    pub(super) fn new(ending: impl Into<Ending>, detail: impl Into<String>) -> Box<Self> {
        Box::new(Self {
            ending: ending.into(),
            detail: detail.into(),
            headers: Vec::new(),
            silent: false,
        })
    }

    fn header(mut self: Box<Self>, name: &'static str, value: impl Into<String>) -> Box<Self> {
        self.headers.push((name, value.into()));
        self
    }
}

/// A step of the set-up: its result, or why the call stops there.
pub(super) type Step<T> = Result<T, Box<Stop>>;

/// An inbound call being set up: what ending it needs to know.
#[derive(Debug)]
pub(super) struct InboundCall {
    pub context: Arc<CallContext>,
    pub sip: CallSip,
    pub id: ServerTxId,
    pub invite: Request,
    pub local_tag: String,
    pub source: SocketAddr,
    pub record: CallRecord,
    /// From the first response that forms it (the 180, or the 200 with a PIN).
    pub dialog: Option<Dialog>,
    /// Our 200 went out: the call ends with BYE, not a final response.
    pub answered: bool,
    /// The phone hung up already: it gets nothing more.
    pub phone_gone: bool,
    pub room: Option<RoomHandle>,
    pub leg: Option<MediaLeg>,
}

/// Runs the call; returns when it has ended and its record is written.
pub(super) async fn run(context: Arc<CallContext>, call: NewCall) {
    let NewCall {
        id,
        invite,
        source,
        transport,
        local_tag,
        inputs,
        inputs_sender,
        endpoint,
    } = call;
    let key = DialogKey {
        call_id: invite.head.call_id.0.clone(),
        local_tag: local_tag.clone(),
    };
    let sip = CallSip::new(endpoint, inputs_sender, inputs, key, transport, source);
    let record = context.cdr.record(call_info(&invite));
    tracing::Span::current().record("call", record.call_id().as_str());
    let mut call = InboundCall {
        context: context.clone(),
        sip,
        id,
        invite,
        local_tag,
        source,
        record,
        dialog: None,
        answered: false,
        phone_gone: false,
        room: None,
        leg: None,
    };
    let config = context.config.clone();
    let admitted = match call.admission(&config).await {
        Ok(Some(admitted)) => admitted,
        // A 407 challenge went out: a step of the attempt, which ends with the next INVITE
        // (and its record).
        Ok(None) => return call.record.discard(),
        Err(stop) => return call.end(*stop).await,
    };
    // Admission is instant and a refusal final at once; for an admitted call, 100 Trying now
    // rather than after the layer's 200 ms.
    let trying = Response::to(&call.invite, 100, None);
    call.sip.respond(id, trying).await;
    match call.set_up(&admitted).await {
        Ok(ready) => call.establish(ready).await,
        Err(stop) => call.end(*stop).await,
    }
}

impl InboundCall {
    /// Limits, trunk, credentials and rule: the call may go ahead (`Some`), was challenged
    /// (`None`), or stops here.
    async fn admission<'c>(&mut self, config: &'c Config) -> Step<Option<Admitted<'c>>> {
        let context = &self.context;
        if context.draining.load(std::sync::atomic::Ordering::Acquire) {
            // New calls go to another instance (RFC 3261 §21.5.4, Retry-After).
            return Err(
                Stop::new(InboundRejection::Draining, "draining").header("Retry-After", "30")
            );
        }
        if let Some(overload) = context.overloaded() {
            tracing::warn!(?overload, "inbound call refused: over the limit");
            let stop = Stop::new(SetupFailure::Overloaded(overload), "over the limit");
            return Err(stop.header("Retry-After", "5"));
        }
        let source = self.source.ip();
        match admit(
            config,
            &context.challenger,
            &self.invite,
            source,
            SystemTime::now(),
        ) {
            Ok(admitted) => Ok(Some(admitted)),
            Err(Refusal::Challenge(challenges)) => {
                let mut challenge = self.with_tag(Response::to(&self.invite, 407, None));
                for value in challenges {
                    challenge.head.other.push("Proxy-Authenticate", value);
                }
                self.answer_invite(challenge).await;
                self.sip.forget().await;
                Ok(None)
            }
            Err(Refusal::Rejected {
                rejection,
                silent,
                detail,
            }) => {
                tracing::info!(%detail, "inbound call refused");
                let mut stop = Stop::new(rejection, detail);
                stop.silent = silent;
                Err(stop)
            }
        }
    }

    /// Media, dialog, room: everything up to the answered call with the caller in the room.
    async fn set_up(&mut self, admitted: &Admitted<'_>) -> Step<super::answer::Ready> {
        let suffix = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let address = CallAddress {
            source: self.source.ip(),
            called: &admitted.called,
            caller: &admitted.caller,
        };
        let room = room_name(admitted.rule, address, &suffix);
        self.record
            .update(|info| admitted_info(info, admitted, &room));
        // Media first: an offer we cannot use is refused before anyone joins a room.
        let Some(sockets) = self.context.ports.allocate().await else {
            return Err(Stop::new(SetupFailure::NoRtpPort, "no free RTP port"));
        };
        let rtp_addr = SocketAddr::new(self.context.local.rtp_ip, sockets.rtp_port());
        let preferences = crate::call::settings::codec_preferences(&self.context.config.rtp);
        let mut session = LocalSession::new(rand::random::<u32>().into(), rtp_addr, preferences);
        let (our_sdp, media) = self.offer_answer(&mut session, &room)?;
        let pin = super::routing::pin(admitted.rule);
        let mut first = if pin.is_some() {
            self.ok_response(&our_sdp)
        } else {
            Response::to(&self.invite, 180, None)
        };
        self.form_dialog(&mut first)?;
        let join = self.join_request(admitted, &room);
        let room_events = match pin {
            Some(pin) => {
                let timeout = admitted.rule.ringing_timeout.0;
                self.answer_then_pin(first, pin, timeout, media, sockets, &mut session, join)
                    .await?
            }
            None => {
                let ok = self.ok_response(&our_sdp);
                self.ring_then_answer(first, ok, media, sockets, &mut session, join)
                    .await?
            }
        };
        Ok(super::answer::Ready {
            session,
            room_events,
            max_duration: admitted.rule.max_call_duration.map(|d| d.0),
        })
    }

    /// Our tag and Contact go on the first response that forms the dialog (RFC 3261
    /// §12.1.1): the 180, or with a PIN to collect, the 200 at once.
    fn form_dialog(&mut self, first: &mut Response) -> Step<()> {
        let local = LocalParty {
            tag: Tag(self.local_tag.clone()),
            contact: self.context.local.contact(self.sip.transport),
        };
        let timers = TimerConfig {
            we_refresh: false,
            ..TimerConfig::default()
        };
        let dialog = Dialog::new_uas(&self.invite, first, local, timers, Instant::now())
            .map_err(|error| Stop::new(InboundRejection::NoDialog, error.to_string()))?;
        self.dialog = Some(dialog);
        Ok(())
    }

    /// Sends the INVITE's final response (or the 407), counting it.
    pub(super) async fn answer_invite(&mut self, response: Response) {
        self.context.metrics.inbound_invite(response.code);
        self.sip.respond(self.id, response).await;
    }

    pub(super) fn with_tag(&self, mut response: Response) -> Response {
        if response.code > 100 && response.head.to.tag().is_none() {
            let tag = Some(self.local_tag.clone());
            response.head.to.params.set("tag", tag);
        }
        response
    }

    /// Ends a call that was never established: one outcome to the phone (the INVITE's final
    /// response, or BYE once answered), the room (if the caller joined), the record and the
    /// metric.
    pub(super) async fn end(mut self, stop: Stop) {
        if let Some(leg) = &mut self.leg {
            leg.finish(&self.context.metrics);
        }
        let phone = match (self.phone_gone, self.answered, self.dialog.as_mut()) {
            (true, _, _) => PhoneClose::Nothing,
            (false, true, Some(dialog)) => PhoneClose::Bye(dialog),
            _ if stop.silent => PhoneClose::Silence(self.id),
            _ => PhoneClose::Decline {
                id: self.id,
                invite: &self.invite,
                local_tag: &self.local_tag,
                headers: stop.headers,
            },
        };
        let sinks = CallSinks::new(
            &self.context,
            Direction::Inbound,
            Some(&self.sip),
            self.record,
        )
        .room(self.room);
        deliver(&stop.ending, &stop.detail, phone, sinks).await;
    }
}
