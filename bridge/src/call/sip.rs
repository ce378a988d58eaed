//! A call's side of the endpoint link: answer its transactions, send requests in its
//! dialog, and forget the dialog when the call ends.

use std::net::SocketAddr;

use sipbridge_signaling::dialog::{Dialog, OutgoingRequest};
use sipbridge_signaling::message::Method;
use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::outcome::{DisconnectReason as OutcomeReason, Outcome};
use sipbridge_signaling::transaction::{ClientTxId, ServerTxId, Transport};
use tokio::sync::{mpsc, oneshot};

use crate::room::{Departure, DisconnectReason};
use crate::sip::link::{CallInput, Command, DialogKey};
use crate::sip::local::LocalAddresses;

#[derive(Debug)]
pub struct CallSip {
    endpoint: mpsc::Sender<Command>,
    inputs_sender: mpsc::Sender<CallInput>,
    pub inputs: mpsc::Receiver<CallInput>,
    key: DialogKey,
    /// The transport the call arrived on; in-dialog requests use it too.
    pub transport: Transport,
    /// The peer's address (where an inbound call came from, the trunk of an outbound one):
    /// in-dialog requests go there when the peer's Contact names a host we would have to
    /// resolve.
    pub source: SocketAddr,
}

impl CallSip {
    pub fn new(
        endpoint: mpsc::Sender<Command>,
        inputs_sender: mpsc::Sender<CallInput>,
        inputs: mpsc::Receiver<CallInput>,
        key: DialogKey,
        transport: Transport,
        source: SocketAddr,
    ) -> Self {
        Self {
            endpoint,
            inputs_sender,
            inputs,
            key,
            transport,
            source,
        }
    }

    pub async fn respond(&self, id: ServerTxId, response: Response) {
        let _ = self.endpoint.send(Command::Respond { id, response }).await;
    }

    /// Leaves the request unanswered for good (see [`Command::Abandon`]).
    pub async fn abandon(&self, id: ServerTxId) {
        let _ = self.endpoint.send(Command::Abandon { id }).await;
    }

    /// Sends a request built by the dialog; `None` if the endpoint refused it.
    pub async fn send(&self, outgoing: OutgoingRequest) -> Option<ClientTxId> {
        let destination = outgoing.next_hop.addr.unwrap_or(self.source);
        self.send_to(outgoing.request, destination).await
    }

    /// Sends a request outside the dialog (the INVITE we place, its CANCEL) to the peer.
    pub async fn send_request(&self, request: Request) -> Option<ClientTxId> {
        self.send_to(request, self.source).await
    }

    async fn send_to(&self, request: Request, destination: SocketAddr) -> Option<ClientTxId> {
        let (reply, id) = oneshot::channel();
        let command = Command::Send {
            request,
            destination,
            transport: self.transport,
            call: self.inputs_sender.clone(),
            reply,
        };
        self.endpoint.send(command).await.ok()?;
        id.await.ok().flatten()
    }

    pub async fn send_ack(&self, outgoing: OutgoingRequest) {
        let destination = outgoing.next_hop.addr.unwrap_or(self.source);
        let ack = Command::SendAck {
            ack: outgoing.request,
            destination,
            transport: self.transport,
        };
        let _ = self.endpoint.send(ack).await;
    }

    /// Ends the dialog from our side (RFC 3261 §15.1.1), Via from `local`.
    pub async fn send_bye(
        &self,
        dialog: &mut Dialog,
        local: &LocalAddresses,
        headers: Vec<(String, String)>,
    ) {
        let via = local.via(self.transport);
        match dialog.build_request(Method::Bye, via, None) {
            Ok(mut bye) => {
                for (name, value) in headers {
                    bye.request.head.other.push(&name, value);
                }
                let _ = self.send(bye).await;
            }
            Err(error) => tracing::warn!(%error, "cannot build the BYE"),
        }
    }

    /// Puts inputs the call set aside back in its queue, in order, for whoever reads next.
    pub fn requeue(&self, inputs: Vec<CallInput>) {
        for input in inputs {
            if self.inputs_sender.try_send(input).is_err() {
                tracing::warn!("call input queue full: a set-aside input dropped");
            }
        }
    }

    /// The call is over: the endpoint stops routing its dialog here.
    pub async fn forget(&self) {
        let key = self.key.clone();
        let _ = self.endpoint.send(Command::Forget { key }).await;
    }
}

/// An outcome as the room participant leaves with it (docs/OUTCOMES.md, the room's two ways).
pub fn departure(outcome: &Outcome) -> Departure {
    Departure {
        reason: livekit_reason(outcome.reason),
        status_code: outcome.status.code,
        status_reason: outcome.status.reason.clone(),
    }
}

/// Our reason enum mirrors the proto's names one to one.
pub fn livekit_reason(reason: OutcomeReason) -> DisconnectReason {
    DisconnectReason::from_str_name(reason.as_str()).unwrap_or(DisconnectReason::UnknownReason)
}

/// The proto's reason as ours (for a reason the server reported).
pub fn outcome_reason(reason: DisconnectReason) -> OutcomeReason {
    OutcomeReason::from_str_name(reason.as_str_name()).unwrap_or(OutcomeReason::UnknownReason)
}
