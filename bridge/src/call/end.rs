//! The one way a call ends. Whatever ended it, [`deliver`] turns its [`Ending`] into one
//! [`Outcome`] and hands that same outcome to the four sinks (docs/OUTCOMES.md, "Where an
//! outcome goes"): the phone (the INVITE's final response, or BYE), the room (departure
//! attributes and the LeaveRequest reason), the API caller still waiting (outbound), and the
//! call detail record with its `calls_ended` count. The sinks are taken by value, so a call
//! cannot be ended twice.

use sipbridge_signaling::dialog::Dialog;
use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{Direction, Ending, Outcome, SipStatus};
use sipbridge_signaling::transaction::ServerTxId;

use super::context::CallContext;
use super::sip::{CallSip, departure};
use crate::cdr::CallRecord;
use crate::room::{Departure, RoomHandle};

/// What the phone is told of the end.
#[derive(Debug)]
pub enum PhoneClose<'a> {
    /// The INVITE is unanswered: its final response carries the outcome's status and
    /// `headers` (a Retry-After, a Warning).
    Decline {
        id: ServerTxId,
        invite: &'a Request,
        local_tag: &'a str,
        headers: Vec<(&'static str, String)>,
    },
    /// The INVITE gets no answer at all (`sip.hide_inbound_port`); the transaction layer
    /// absorbs its retransmissions.
    Silence(ServerTxId),
    /// The call was answered: BYE in its dialog, with these extra headers.
    Bye(&'a mut Dialog, Vec<(String, String)>),
    /// The phone knows already (it sent BYE or CANCEL, or our INVITE never got through).
    Nothing,
}

/// The API caller's answer when the call ended before it was given (outbound calls).
pub type ApiAnswer = Box<dyn FnOnce(&Outcome) + Send>;

/// Where an ending goes.
pub trait EndSinks {
    /// The phone's answer (or BYE); `status` is what a final response carries.
    fn tell_phone(
        &mut self,
        close: PhoneClose<'_>,
        status: &SipStatus,
    ) -> impl Future<Output = ()> + Send;
    /// The participant leaves with `departure` (unless it is gone already).
    fn leave_room(&mut self, departure: Departure) -> impl Future<Output = ()> + Send;
    /// The API caller still waiting hears the outcome.
    fn answer_api(&mut self, outcome: &Outcome);
    /// The record is written and the end counted; `detail` is for the record's `error`.
    fn write_record(&mut self, outcome: &Outcome, detail: &str);
}

/// Ends the call: one outcome, to every sink, once.
pub async fn deliver(
    ending: &Ending,
    detail: &str,
    phone: PhoneClose<'_>,
    mut sinks: impl EndSinks,
) -> Outcome {
    let outcome = ending.outcome();
    tracing::info!(
        reason = outcome.reason.as_str(),
        code = outcome.status.code,
        status = %outcome.status.reason,
        detail,
        "call ended"
    );
    sinks.tell_phone(phone, &outcome.status).await;
    sinks.leave_room(departure(&outcome)).await;
    sinks.answer_api(&outcome);
    sinks.write_record(&outcome, detail);
    outcome
}

/// The sinks of a real call.
pub struct CallSinks<'a> {
    context: &'a CallContext,
    direction: Direction,
    /// `None` before the call had a SIP leg (no RTP port, no room).
    sip: Option<&'a CallSip>,
    record: Option<CallRecord>,
    /// `None` when the participant never joined or is gone already (the room ended it).
    room: Option<RoomHandle>,
    api: Option<ApiAnswer>,
}

impl std::fmt::Debug for CallSinks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSinks")
            .field("direction", &self.direction)
            .field("record", &self.record)
            .field("room", &self.room.is_some())
            .field("api", &self.api.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> CallSinks<'a> {
    /// The sinks of a call with no participant in a room and no API caller waiting.
    pub fn new(
        context: &'a CallContext,
        direction: Direction,
        sip: Option<&'a CallSip>,
        record: CallRecord,
    ) -> Self {
        Self {
            context,
            direction,
            sip,
            record: Some(record),
            room: None,
            api: None,
        }
    }

    /// The participant, unless it is gone already.
    pub fn room(mut self, room: Option<RoomHandle>) -> Self {
        self.room = room;
        self
    }

    /// The API caller, when one still waits for the answer.
    pub fn api(mut self, api: Option<ApiAnswer>) -> Self {
        self.api = api;
        self
    }
}

impl EndSinks for CallSinks<'_> {
    async fn tell_phone(&mut self, close: PhoneClose<'_>, status: &SipStatus) {
        let Some(sip) = self.sip else {
            return;
        };
        match close {
            PhoneClose::Decline {
                id,
                invite,
                local_tag,
                headers,
            } => {
                let mut response = Response::to(invite, status.code, Some(&status.reason));
                response.set_to_tag(local_tag);
                for (name, value) in headers {
                    response.head.other.push(name, value);
                }
                self.context.metrics.inbound_invite(status.code);
                sip.respond(id, response).await;
            }
            PhoneClose::Silence(id) => sip.abandon(id).await,
            PhoneClose::Bye(dialog, headers) => {
                sip.send_bye(dialog, &self.context.local, headers).await;
            }
            PhoneClose::Nothing => {}
        }
        // Whatever the phone was told, the endpoint stops routing the dialog to us.
        sip.forget().await;
    }

    async fn leave_room(&mut self, departure: Departure) {
        if let Some(room) = self.room.take() {
            room.leave(departure).await;
        }
    }

    fn answer_api(&mut self, outcome: &Outcome) {
        if let Some(answer) = self.api.take() {
            answer(outcome);
        }
    }

    fn write_record(&mut self, outcome: &Outcome, detail: &str) {
        if let Some(record) = self.record.take() {
            self.context.finish(self.direction, record, outcome, detail);
        }
    }
}

#[cfg(test)]
#[path = "end_tests.rs"]
mod tests;
