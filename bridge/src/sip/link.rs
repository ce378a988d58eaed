//! What the endpoint task and a call task say to each other. The endpoint owns the
//! transactions; a call owns its dialog, media and room, and talks SIP through these.

use std::net::SocketAddr;

use sipbridge_signaling::message::{Request, Response};
use sipbridge_signaling::transaction::{ClientTxId, ServerTxId, Transport};
use tokio::sync::mpsc;

/// How many inputs wait for one call at most. A call reads its inputs as they come; only a
/// peer flooding one dialog fills this (the endpoint then drops and counts).
const CALL_INPUT_QUEUE: usize = 256;

/// A new call's input queue.
pub fn call_inputs() -> (mpsc::Sender<CallInput>, mpsc::Receiver<CallInput>) {
    mpsc::channel(CALL_INPUT_QUEUE)
}

/// A dialog as the endpoint routes to it: Call-ID and our tag (RFC 3261 §12: with the
/// remote tag it identifies the dialog; ours alone is unique among our dialogs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogKey {
    pub call_id: String,
    pub local_tag: String,
}

/// Endpoint → call.
#[derive(Debug)]
pub enum CallInput {
    /// An in-dialog request (or the INVITE that started the call, first of all).
    Request { id: ServerTxId, request: Request },
    /// The caller cancelled the INVITE (the CANCEL was answered 200 already).
    Cancelled { id: ServerTxId },
    /// The ACK for our 2xx arrived (with the answer to our offer, when the INVITE had none).
    AckReceived { id: ServerTxId, ack: Request },
    /// No ACK for our final response (Timer H or L): end the call (RFC 3261 §13.3.1.4).
    NoAck { id: ServerTxId },
    /// A response to a request the call sent.
    Response { id: ClientTxId, response: Response },
    /// A request the call sent got no final response (Timer B/F).
    Timeout { id: ClientTxId },
    /// A request the call sent could not be delivered; `detail` says why (for the record).
    TransportError { id: ClientTxId, detail: String },
    /// The bridge is shutting down after its drain period.
    Shutdown,
}

/// A new INVITE outside any dialog, for whoever starts calls. `local_tag` is the To tag
/// every response of the call carries; the endpoint already routes that dialog to `inputs`.
#[derive(Debug)]
pub struct NewCall {
    pub id: ServerTxId,
    pub invite: Request,
    pub source: SocketAddr,
    pub transport: Transport,
    pub local_tag: String,
    pub inputs: mpsc::Receiver<CallInput>,
    pub inputs_sender: mpsc::Sender<CallInput>,
    pub endpoint: mpsc::Sender<Command>,
}

/// Call → endpoint.
#[derive(Debug)]
pub enum Command {
    Respond {
        id: ServerTxId,
        response: Response,
    },
    /// No answer at all to this request, ever (`sip.hide_inbound_port`).
    Abandon {
        id: ServerTxId,
    },
    /// Starts a client transaction; its id comes back on `reply` so the call can match the
    /// responses ([`CallInput::Response`]) that follow.
    Send {
        request: Request,
        destination: SocketAddr,
        transport: Transport,
        call: mpsc::Sender<CallInput>,
        reply: tokio::sync::oneshot::Sender<Option<ClientTxId>>,
    },
    /// An ACK for a 2xx (outside any transaction).
    SendAck {
        ack: Request,
        destination: SocketAddr,
        transport: Transport,
    },
    /// A call we place: in-dialog requests for `key` (our From tag) go to `call`.
    Register {
        key: DialogKey,
        call: mpsc::Sender<CallInput>,
    },
    /// The call ended: forget its dialog.
    Forget {
        key: DialogKey,
    },
    /// The bridge is shutting down: every call gets [`CallInput::Shutdown`].
    ShutdownCalls,
}
