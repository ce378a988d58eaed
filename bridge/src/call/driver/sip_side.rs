//! The SIP side of a call being set up: requests sent (and what their failures are about),
//! SIP inputs in the set-up's words, and the INVITE transaction that may outlive the call.

use std::collections::HashMap;
use std::time::Instant;

use sipbridge_signaling::dialog::OutgoingRequest;
use sipbridge_signaling::message::{Method, Request};
use sipbridge_signaling::transaction::ClientTxId;

use crate::call::machine::{Action, CallMachine, Failure, Input};
use crate::call::sip::CallSip;
use crate::sip::link::CallInput;

/// The call's SIP leg, and the requests it sent (by transaction: what a timeout or
/// transport error is about, method and CSeq).
#[derive(Debug)]
pub(super) struct SipSide {
    pub(super) sip: CallSip,
    sent: HashMap<ClientTxId, (Method, u32)>,
}

impl SipSide {
    pub(super) fn new(sip: CallSip) -> Self {
        Self {
            sip,
            sent: HashMap::new(),
        }
    }

    /// Sends a request outside any dialog; a failure to send is the input returned.
    pub(super) async fn send_plain(&mut self, request: Request) -> Option<Input> {
        let about = (request.method.clone(), request.head.cseq.seq);
        let sent = self.sip.send_request(request).await;
        self.sent(about, sent)
    }

    /// Sends a request of a dialog; a failure to send is the input returned.
    pub(super) async fn send_in_dialog(&mut self, request: OutgoingRequest) -> Option<Input> {
        let head = &request.request.head;
        let about = (head.cseq.method.clone(), head.cseq.seq);
        let sent = self.sip.send(request).await;
        self.sent(about, sent)
    }

    fn sent(&mut self, about: (Method, u32), sent: Option<ClientTxId>) -> Option<Input> {
        let Some(id) = sent else {
            let (method, cseq) = about;
            let failure = Failure::Transport(format!("the {method} could not be sent"));
            return Some(Input::RequestFailed {
                method,
                cseq,
                failure,
            });
        };
        self.sent.insert(id, about);
        None
    }

    /// The machines' view of a SIP input (retransmissions and the like are the transaction
    /// layer's business).
    pub(super) fn input(&mut self, input: CallInput) -> Option<Input> {
        let (id, failure) = match input {
            CallInput::Request { id, request } => return Some(Input::Request { id, request }),
            CallInput::Cancelled { .. } => return Some(Input::Cancelled),
            CallInput::AckReceived { ack, .. } => return Some(Input::Ack(ack)),
            CallInput::NoAck { .. } => return Some(Input::NoAck),
            CallInput::Shutdown => return Some(Input::Shutdown),
            CallInput::Response { id, response } => {
                if response.code >= 200 {
                    self.sent.remove(&id);
                }
                return Some(Input::Response(response));
            }
            CallInput::Timeout { id } => (id, Failure::NoResponse),
            CallInput::TransportError { id, detail } => (id, Failure::Transport(detail)),
        };
        let (method, cseq) = self.sent.remove(&id)?;
        Some(Input::RequestFailed {
            method,
            cseq,
            failure,
        })
    }
}

/// After the call ended with its INVITE transaction still running: the machine gets that
/// transaction's responses and its clock until it is done.
pub(super) async fn linger(mut sip: SipSide, mut machine: impl CallMachine) {
    loop {
        while let Some(action) = machine.poll_action() {
            let failed = match action {
                Action::SendRequest(request) => sip.send_plain(*request).await,
                Action::Send(request) => sip.send_in_dialog(request).await,
                Action::SendAck(ack) => {
                    sip.sip.send_ack(ack).await;
                    None
                }
                _ => None,
            };
            if let Some(failed) = failed {
                machine.handle_input(Instant::now(), failed);
            }
        }
        if machine.is_done() {
            return;
        }
        let input = tokio::select! {
            input = sip.sip.inputs.recv() => match input {
                Some(input) => sip.input(input),
                None => return,
            },
            () = sleep(machine.poll_timeout()) => None,
        };
        let now = Instant::now();
        if let Some(input) = input {
            machine.handle_input(now, input);
        }
        machine.handle_timeout(now);
    }
}

pub(super) async fn sleep(until: Option<Instant>) {
    match until {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
