//! One inbound call, from its INVITE to its outcome. This is the driver: admission (limits,
//! trunk, auth, rule; `admit.rs`) and the RTP ports, then the set-up's decisions in
//! `inbound::setup` (sans-IO) and the answered call's in `call::answered`. Every way the call
//! can stop before it is answered is a [`Stop`] carrying an [`Ending`], and
//! [`InboundCall::end`] delivers it through `call::end`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use sipbridge_config::Config;
use sipbridge_signaling::dialog::Dialog;
use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{CallStatus, Direction, Ending, InboundRejection, SetupFailure};
use sipbridge_signaling::sdp::LocalSession;
use sipbridge_signaling::transaction::ServerTxId;

use super::admit::{Admitted, Refusal, admit};
use super::identity::call_info;
use super::setup::PhoneEnd;
use crate::call::context::CallContext;
use crate::call::end::{CallSinks, PhoneClose, deliver};
use crate::call::leg::MediaLeg;
use crate::call::ports::RtpSockets;
use crate::call::session::{DialogParts, Established};
use crate::call::sip::CallSip;
use crate::call::transfer::TransferDesk;
use crate::cdr::CallRecord;
use crate::room::{RoomEvent, RoomHandle, attributes};
use crate::sip::link::{DialogKey, NewCall};

/// Why the call stopped before it was answered and the caller in the room: its ending, a
/// detail for the record, and how the phone hears of it.
#[derive(Debug)]
pub(super) struct Stop {
    pub ending: Ending,
    pub detail: String,
    pub phone: PhoneEnd,
}

impl Stop {
    /// A stop answered with the INVITE's final response.
    pub(super) fn new(ending: impl Into<Ending>, detail: impl Into<String>) -> Box<Self> {
        Box::new(Self {
            ending: ending.into(),
            detail: detail.into(),
            phone: PhoneEnd::Decline(Vec::new()),
        })
    }

    fn header(mut self: Box<Self>, name: &'static str, value: impl Into<String>) -> Box<Self> {
        if let PhoneEnd::Decline(headers) = &mut self.phone {
            headers.push((name, value.into()));
        }
        self
    }
}

/// A step of the set-up: its result, or why the call stops there.
pub(super) type Step<T> = Result<T, Box<Stop>>;

/// An inbound call being set up: what its driver holds.
#[derive(Debug)]
pub(super) struct InboundCall {
    pub context: Arc<CallContext>,
    pub sip: CallSip,
    pub id: ServerTxId,
    pub invite: Request,
    pub local_tag: String,
    pub source: SocketAddr,
    pub record: CallRecord,
    /// The dialog, once the set-up formed one (for a BYE at the end).
    pub dialog: Option<Dialog>,
    pub sockets: Option<RtpSockets>,
    pub leg: Option<MediaLeg>,
    pub room: Option<(RoomHandle, tokio::sync::mpsc::Receiver<RoomEvent>)>,
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
        sockets: None,
        leg: None,
        room: None,
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
    let max_duration = admitted.rule.max_call_duration.map(|d| d.0);
    match call.set_up(&admitted).await {
        Ok(session) => call.establish(session, max_duration).await,
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
            let stop = Stop::new(InboundRejection::Draining, "draining");
            return Err(stop.header("Retry-After", "30"));
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
                let mut challenge = Response::to(&self.invite, 407, None);
                challenge.set_to_tag(&self.local_tag);
                for value in challenges {
                    challenge.head.other.push("Proxy-Authenticate", value);
                }
                self.context.metrics.inbound_invite(407);
                self.sip.respond(self.id, challenge).await;
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
                if silent {
                    stop.phone = PhoneEnd::Silence;
                }
                Err(stop)
            }
        }
    }

    /// Hands the answered call to `call::session`, which runs it to its end.
    async fn establish(self, session: LocalSession, max_duration: Option<std::time::Duration>) {
        let InboundCall {
            context,
            sip,
            record,
            dialog,
            leg,
            room,
            ..
        } = self;
        let (Some(dialog), Some((room, room_events)), Some(leg)) = (dialog, room, leg) else {
            // Set-up returns only with all three; if not, the record says so (cdr's drop).
            tracing::error!("an answered call without its dialog, room or media");
            return;
        };
        // Listed before anyone can see the call active, so a transfer asked for at once finds it.
        let transfers = TransferDesk::list(&context, &record);
        let status = attributes::call_status(CallStatus::Active);
        if let Err(error) = room.set_attributes(status).await {
            tracing::debug!(%error, "call status not set");
        }
        let parts = DialogParts {
            dialog,
            session,
            max_duration,
            ack: None,
        };
        let room = (room, room_events);
        Established::new(&context, sip, leg, room, transfers, parts)
            .run_to_end(&context, Direction::Inbound, record)
            .await;
    }

    /// Ends a call that was never established: one outcome to the phone (the INVITE's final
    /// response, or BYE once answered), the room (if the caller joined), the record and the
    /// metric.
    pub(super) async fn end(mut self, stop: Stop) {
        if let Some(leg) = &mut self.leg {
            leg.finish(&self.context.metrics);
        }
        let phone = match (stop.phone, self.dialog.as_mut()) {
            (PhoneEnd::Decline(headers), _) => PhoneClose::Decline {
                id: self.id,
                invite: &self.invite,
                local_tag: &self.local_tag,
                headers,
            },
            (PhoneEnd::Silence, _) => PhoneClose::Silence(self.id),
            (PhoneEnd::Bye, Some(dialog)) => PhoneClose::Bye(dialog),
            (PhoneEnd::Bye | PhoneEnd::Nothing, _) => PhoneClose::Nothing,
        };
        let room = self.room.map(|(room, _)| room);
        let sinks = CallSinks::new(
            &self.context,
            Direction::Inbound,
            Some(&self.sip),
            self.record,
        )
        .room(room);
        deliver(&stop.ending, &stop.detail, phone, sinks).await;
    }
}
