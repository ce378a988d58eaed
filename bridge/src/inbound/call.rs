//! One inbound call, from its INVITE to its outcome: admission (limits, trunk, auth, rule;
//! `admit.rs`), then the set-up (`prepare.rs` readies it, `inbound::setup` decides, the one
//! driver, `call::driver`, runs it) and the answered call (`call::answered`). A call
//! refused at admission is a [`Stop`] carrying an [`Ending`], delivered by
//! [`InboundCall::end`] through `call::end`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{Direction, Ending, InboundRejection, Overload, SetupFailure};
use sipbridge_signaling::transaction::ServerTxId;

use super::admit::{Admitted, Refusal, admit_on};
use super::identity::call_info;
use super::routes::CallFacts;
use crate::call::context::CallContext;
use crate::call::driver::{InboundInvite, phone_close};
use crate::call::end::{CallSinks, deliver};
use crate::call::machine::PhoneEnd;
use crate::call::sip::CallSip;
use crate::cdr::CallRecord;
use crate::sip::link::{DialogKey, NewCall};

/// Why the call stopped before its set-up: its ending, a detail for the record, and how
/// the phone hears of it.
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

/// A step of the admission: its result, or why the call stops there.
pub(super) type Step<T> = Result<T, Box<Stop>>;

/// An inbound call being admitted.
#[derive(Debug)]
pub(super) struct InboundCall {
    pub context: Arc<CallContext>,
    pub sip: CallSip,
    pub id: ServerTxId,
    pub invite: Request,
    pub local_tag: String,
    pub source: SocketAddr,
    pub record: CallRecord,
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
    };
    let admitted = match call.admission().await {
        Ok(Some(admitted)) => admitted,
        // A 407 challenge went out: a step of the attempt, which ends with the next INVITE
        // (and its record).
        Ok(None) => return call.record.discard(),
        Err(stop) => return call.end(*stop).await,
    };
    // For an admitted call, 100 Trying now rather than after the layer's 200 ms.
    let trying = Response::to(&call.invite, 100, None);
    call.sip.respond(id, trying).await;
    call.set_up(admitted).await;
}

impl InboundCall {
    /// Limits, trunk, credentials and rule: the call may go ahead (`Some`), was challenged
    /// (`None`), or stops here.
    async fn admission(&mut self) -> Step<Option<Admitted>> {
        let context = self.context.clone();
        let draining = context.draining.load(std::sync::atomic::Ordering::Acquire);
        open_for_calls(draining, context.overloaded())?;
        let facts = self.facts();
        let routes = context.routes.as_ref();
        let admitted = match routes.trunk(&facts).await {
            Ok(trunk) => {
                // The record names the trunk whatever comes next (wrong credentials, no rule).
                self.record
                    .update(|info| info.trunk_id.clone_from(&trunk.id));
                let now = SystemTime::now();
                admit_on(
                    trunk,
                    routes,
                    &context.challenger,
                    &self.invite,
                    &facts,
                    now,
                )
                .await
            }
            Err(refusal) => Err(refusal),
        };
        match admitted {
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
            Err(Refusal::Unavailable { detail }) => {
                tracing::warn!(%detail, "inbound call refused: no routing answer");
                let stop = Stop::new(SetupFailure::RoutingUnavailable, detail);
                Err(stop.header("Retry-After", "5"))
            }
        }
    }

    /// What trunk and rule matching look at.
    pub(super) fn facts(&self) -> CallFacts {
        let call_id = self.record.call_id();
        CallFacts::new(&self.invite, call_id, self.source.ip(), self.sip.transport)
    }

    /// Ends a call before its set-up: one outcome to the phone (the INVITE's final
    /// response, or none), the record and the metric.
    pub(super) async fn end(self, stop: Stop) {
        let invite = InboundInvite {
            id: self.id,
            invite: self.invite,
            local_tag: self.local_tag,
        };
        let phone = phone_close(stop.phone, Some(&invite), None);
        let sinks = CallSinks::new(
            &self.context,
            Direction::Inbound,
            Some(&self.sip),
            self.record,
        );
        deliver(&stop.ending, &stop.detail, phone, sinks).await;
    }
}

/// Whether the bridge takes a new call at all. Draining, new calls go to another instance;
/// over its limits, the caller may try again soon (RFC 3261 §21.5.4, Retry-After).
fn open_for_calls(draining: bool, overload: Option<Overload>) -> Step<()> {
    if draining {
        let stop = Stop::new(InboundRejection::Draining, "draining");
        return Err(stop.header("Retry-After", "30"));
    }
    if let Some(overload) = overload {
        tracing::warn!(?overload, "inbound call refused: over the limit");
        let stop = Stop::new(SetupFailure::Overloaded(overload), "over the limit");
        return Err(stop.header("Retry-After", "5"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sipbridge_signaling::outcome::{DisconnectReason, Overload};

    use super::{PhoneEnd, open_for_calls};

    /// The rows "draining" and the two limits: the status, the reason and the Retry-After
    /// the caller gets.
    #[test]
    fn draining_and_the_limits_refuse_with_their_row_and_a_retry_after() {
        let cases = [
            (
                true,
                None,
                DisconnectReason::ServerShutdown,
                503,
                "Shutting down",
                "30",
            ),
            (
                false,
                Some(Overload::TooManyCalls),
                DisconnectReason::JoinFailure,
                503,
                "Service Unavailable - too many calls",
                "5",
            ),
            (
                false,
                Some(Overload::Cpu),
                DisconnectReason::JoinFailure,
                503,
                "Service Unavailable - CPU overloaded",
                "5",
            ),
        ];
        for (draining, overload, reason, code, phrase, retry) in cases {
            let stop = open_for_calls(draining, overload).unwrap_err();
            let outcome = stop.ending.outcome();
            assert_eq!(outcome.reason, reason);
            assert_eq!(
                (outcome.status.code, outcome.status.reason.as_str()),
                (code, phrase)
            );
            assert_eq!(
                stop.phone,
                PhoneEnd::Decline(vec![("Retry-After", retry.to_owned())])
            );
        }
        assert!(open_for_calls(false, None).is_ok());
    }
}
