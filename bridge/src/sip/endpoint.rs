//! The SIP endpoint task: one task owns the transaction layer of the whole bridge and runs it
//! over the [`Transports`]. It parses what arrives, answers what needs no call (malformed
//! requests, RFC 3261 §8.2 refusals, OPTIONS, 481 for unknown dialogs), starts a call task
//! per new INVITE and routes each call's transactions and dialog to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sipbridge_config::Config;
use sipbridge_signaling::message::{
    Limits, Malformed, Message, Method, Request, Response, is_keepalive, parse_message,
};
use sipbridge_signaling::outcome::SipStatus;
use sipbridge_signaling::screen::{
    ALLOWED_METHODS, Rejection, SUPPORTED, response_is_for_us, screen_request,
};
use sipbridge_signaling::transaction::{
    ClientTxId, Event, ServerTxId, Timers, TransactionLayer, Transport, TxId,
};
use tokio::sync::mpsc;

use super::link::{CallInput, Command, DialogKey, NewCall, call_inputs};
use super::transport::{Inbound, Transports};
use crate::metrics::Metrics;

/// Commands from call tasks waiting for the endpoint.
const COMMAND_QUEUE: usize = 4096;

/// The endpoint's command channel, made before the endpoint so that calls we place can hold
/// its sender.
pub fn command_channel() -> (mpsc::Sender<Command>, mpsc::Receiver<Command>) {
    mpsc::channel(COMMAND_QUEUE)
}

/// Starts a call for a new INVITE (spawning its task).
pub type CallStarter = Box<dyn Fn(NewCall) + Send>;

type CallSender = mpsc::Sender<CallInput>;

/// Whether the bridge takes new calls now: `None` if it does, else the status a new call
/// would get and the seconds of its `Retry-After`.
pub type CallGate = Box<dyn Fn() -> Option<(SipStatus, u32)> + Send>;

pub struct Endpoint {
    config: Arc<Config>,
    gate: CallGate,
    transports: Transports,
    metrics: Arc<Metrics>,
    limits: Limits,
    layer: TransactionLayer,
    start_call: CallStarter,
    commands: mpsc::Receiver<Command>,
    command_sender: mpsc::Sender<Command>,
    dialogs: HashMap<DialogKey, CallSender>,
    servers: HashMap<ServerTxId, CallSender>,
    clients: HashMap<ClientTxId, CallSender>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("transactions", &self.layer.len())
            .field("dialogs", &self.dialogs.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn new(
        config: Arc<Config>,
        transports: Transports,
        metrics: Arc<Metrics>,
        (start_call, gate): (CallStarter, CallGate),
        (command_sender, commands): (mpsc::Sender<Command>, mpsc::Receiver<Command>),
    ) -> Self {
        let timers = &config.sip.timers;
        let timers = Timers {
            t1: timers.t1.0,
            t2: timers.t2.0,
            t4: timers.t4.0,
        };
        Self {
            config,
            gate,
            transports,
            metrics,
            limits: Limits::default(),
            layer: TransactionLayer::new(timers, rand::random()),
            start_call,
            commands,
            command_sender,
            dialogs: HashMap::new(),
            servers: HashMap::new(),
            clients: HashMap::new(),
        }
    }

    /// Runs until the transports stop delivering.
    pub async fn run(mut self, mut inbound: mpsc::Receiver<Inbound>) {
        loop {
            let deadline = self
                .layer
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let timer = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                input = inbound.recv() => match input {
                    Some(Inbound::Message { bytes, source, transport }) => {
                        self.handle_message(&bytes, source, transport);
                    }
                    Some(Inbound::Unreachable { destination, detail }) => {
                        tracing::debug!(%destination, %detail, "SIP destination unreachable");
                        self.layer.handle_transport_error(Instant::now(), destination, &detail);
                    }
                    None => return,
                },
                Some(command) = self.commands.recv() => self.handle_command(command),
                () = timer => self.layer.handle_timeout(Instant::now()),
            }
            self.drain();
        }
    }

    fn handle_message(&mut self, bytes: &[u8], source: SocketAddr, transport: Transport) {
        if transport == Transport::Udp && is_keepalive(bytes) {
            return;
        }
        let now = Instant::now();
        match parse_message(bytes, &self.limits) {
            Ok(Message::Request(request)) => {
                self.layer.handle_request(now, request, source, transport)
            }
            Ok(Message::Response(response)) if response_is_for_us(&response) => {
                self.layer.handle_response(now, response, transport);
            }
            Ok(Message::Response(_)) => self.count_drop("not_for_us"),
            Err(malformed) => self.answer_malformed(malformed, source, transport),
        }
    }

    /// Sends what the layer wants sent and hands its events on.
    fn drain(&mut self) {
        loop {
            while let Some(transmit) = self.layer.poll_transmit() {
                self.transports
                    .send(transmit.destination, transmit.transport, transmit.bytes);
            }
            let Some(event) = self.layer.poll_event() else {
                return;
            };
            self.handle_event(event);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Request {
                id,
                request,
                source,
                transport,
            } => self.handle_request(id, request, source, transport),
            Event::Cancelled { id, .. } => self.to_server_owner(id, CallInput::Cancelled { id }),
            Event::AckReceived { id, ack } => {
                self.to_server_owner(id, CallInput::AckReceived { id, ack })
            }
            Event::NoAck { id } => self.to_server_owner(id, CallInput::NoAck { id }),
            Event::Response { id, response } => {
                self.to_client_owner(id, CallInput::Response { id, response })
            }
            Event::Timeout { id } => self.to_client_owner(id, CallInput::Timeout { id }),
            Event::TransportError {
                id: TxId::Client(id),
                detail,
            } => self.to_client_owner(id, CallInput::TransportError { id, detail }),
            Event::TransportError {
                id: TxId::Server(_),
                ..
            } => {}
            Event::StrayResponse { response, .. } => {
                tracing::debug!(code = response.code, call_id = %response.head.call_id, "stray 2xx dropped");
            }
            Event::Terminated {
                id: TxId::Client(id),
            } => {
                self.clients.remove(&id);
            }
            Event::Terminated {
                id: TxId::Server(id),
            } => {
                self.servers.remove(&id);
            }
        }
    }

    fn handle_request(
        &mut self,
        id: ServerTxId,
        request: Request,
        source: SocketAddr,
        transport: Transport,
    ) {
        let method = match &request.method {
            Method::Other(_) => "other".to_owned(),
            known => known.as_str().to_owned(),
        };
        self.metrics
            .sip_requests
            .get_or_create(&vec![("method", method)])
            .inc();
        if let Err(rejection) = screen_request(&request) {
            // An ACK is never answered (RFC 3261 §17.2.3).
            if request.method != Method::Ack {
                self.refuse(id, &request, &rejection);
            }
            return;
        }
        if let Some(local_tag) = request.head.to.tag() {
            let key = DialogKey {
                call_id: request.head.call_id.0.clone(),
                local_tag: local_tag.to_owned(),
            };
            match self.dialogs.get(&key).cloned() {
                Some(call) => {
                    self.servers.insert(id, call.clone());
                    self.to_call(&call, CallInput::Request { id, request });
                }
                // A stray ACK needs nothing; anything else is for a dialog we do not have
                // (RFC 3261 §12.2.2).
                None if request.method == Method::Ack => {}
                None => self.respond(id, Response::to(&request, 481, None)),
            }
            return;
        }
        match request.method {
            Method::Options => self.answer_options(id, &request),
            Method::Invite => self.start_call(id, request, source, transport),
            Method::Ack => {}
            _ => self.respond(id, Response::to(&request, 481, None)),
        }
    }

    fn start_call(
        &mut self,
        id: ServerTxId,
        invite: Request,
        source: SocketAddr,
        transport: Transport,
    ) {
        let local_tag = format!("{:016x}", rand::random::<u64>());
        let key = DialogKey {
            call_id: invite.head.call_id.0.clone(),
            local_tag: local_tag.clone(),
        };
        let (inputs_sender, inputs) = call_inputs();
        self.dialogs.insert(key, inputs_sender.clone());
        self.servers.insert(id, inputs_sender.clone());
        (self.start_call)(NewCall {
            id,
            invite,
            source,
            transport,
            local_tag,
            inputs,
            inputs_sender,
            endpoint: self.command_sender.clone(),
        });
    }

    fn handle_command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Respond { id, response } => {
                if let Err(error) = self.layer.respond(now, id, response) {
                    tracing::debug!(%error, "response not sent");
                }
            }
            Command::Abandon { id } => {
                if let Err(error) = self.layer.abandon(now, id) {
                    tracing::warn!(%error, "request not dropped");
                }
            }
            Command::Send {
                request,
                destination,
                transport,
                call,
                reply,
            } => {
                let id = match self
                    .layer
                    .send_request(now, request, destination, transport)
                {
                    Ok(id) => {
                        self.clients.insert(id, call);
                        Some(id)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "request not sent");
                        None
                    }
                };
                let _ = reply.send(id);
            }
            Command::SendAck {
                ack,
                destination,
                transport,
            } => self.layer.send_ack(&ack, destination, transport),
            Command::Register { key, call } => {
                self.dialogs.insert(key, call);
            }
            Command::Forget { key } => {
                self.dialogs.remove(&key);
            }
            Command::ShutdownCalls => {
                for call in self.dialogs.values() {
                    self.to_call(call, CallInput::Shutdown);
                }
            }
        }
    }

    fn to_server_owner(&self, id: ServerTxId, input: CallInput) {
        if let Some(call) = self.servers.get(&id) {
            self.to_call(call, input);
        }
    }

    fn to_client_owner(&self, id: ClientTxId, input: CallInput) {
        if let Some(call) = self.clients.get(&id) {
            self.to_call(call, input);
        }
    }

    /// A call's queue is bounded (a peer flooding one dialog must not grow our memory):
    /// what does not fit is dropped and counted. A call that has ended is simply gone.
    fn to_call(&self, call: &CallSender, input: CallInput) {
        if let Err(mpsc::error::TrySendError::Full(input)) = call.try_send(input) {
            tracing::warn!(?input, "call input queue full: input dropped");
            self.metrics.call_inputs_dropped.inc();
        }
    }

    fn respond(&mut self, id: ServerTxId, response: Response) {
        if let Err(error) = self.layer.respond(Instant::now(), id, response) {
            tracing::debug!(%error, "response not sent");
        }
    }

    /// OPTIONS is how carriers and load balancers probe a trunk: answer it with what we
    /// accept (RFC 3261 §11.2), with the INVITE's 503 while draining or over the limits, so
    /// that a prober sends calls elsewhere (RFC 3261 §21.5.4).
    fn answer_options(&mut self, id: ServerTxId, request: &Request) {
        if let Some((status, retry_after)) = (self.gate)() {
            let mut busy = Response::to(request, status.code, Some(&status.reason));
            busy.head.other.push("Retry-After", retry_after.to_string());
            return self.respond(id, busy);
        }
        let mut response = Response::to(request, 200, None);
        let headers = &mut response.head.other;
        headers.push("Allow", ALLOWED_METHODS);
        headers.push("Accept", "application/sdp");
        headers.push("Supported", SUPPORTED.join(", "));
        headers.push("Server", self.config.sip.user_agent.clone());
        self.respond(id, response);
    }

    fn refuse(&mut self, id: ServerTxId, request: &Request, rejection: &Rejection) {
        let status = rejection.code.to_string();
        self.metrics
            .sip_requests_refused
            .get_or_create(&vec![("status", status)])
            .inc();
        let mut response = Response::to(request, rejection.code, Some(&rejection.reason));
        for (name, value) in &rejection.headers {
            response.head.other.push(name, value.clone());
        }
        self.respond(id, response);
    }

    /// A request that did not parse never reaches the transaction layer: it is answered
    /// statelessly, copying the header lines that could be read (RFC 3261 §8.2.6.2).
    fn answer_malformed(&self, malformed: Malformed, source: SocketAddr, transport: Transport) {
        let Some(reply) = malformed.reply else {
            tracing::debug!(%source, error = %malformed.error, "dropped an unanswerable SIP message");
            self.count_drop("malformed");
            return;
        };
        let (code, reason) = malformed.error.status();
        tracing::debug!(%source, %code, %reason, "refused a malformed SIP request");
        self.metrics
            .sip_requests_refused
            .get_or_create(&vec![("status", code.to_string())])
            .inc();
        let bytes = reply.response_bytes(code, &reason, &[]);
        self.transports.send(source, transport, Bytes::from(bytes));
    }

    fn count_drop(&self, reason: &'static str) {
        self.metrics
            .sip_dropped
            .get_or_create(&vec![("reason", reason)])
            .inc();
    }
}
