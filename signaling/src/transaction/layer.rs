//! The layer that owns the transactions: what the TU sends, timers, outputs, and the
//! bookkeeping that files each transaction under its keys and deadline.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::client::ClientTx;
use super::key::{AckKey, ClientKey, MergeKey, ServerKey};
use super::server::ServerTx;
use super::{ClientTxId, Event, ServerTxId, Timers, Transmit, Transport, TxId, make_tag};
use crate::Error;
use crate::message::{Method, Request, Response};

/// What the transactions produced, drained by `poll_transmit` and `poll_event`.
#[derive(Debug, Default)]
pub(crate) struct Output {
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Output {
    pub(crate) fn transmit(&mut self, destination: SocketAddr, transport: Transport, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            destination,
            transport,
            bytes,
        });
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}

/// Every client and server transaction of one endpoint (module docs).
///
/// Lookups go through hash maps keyed as RFC 3261 matches, and deadlines through one ordered
/// set, so an endpoint with thousands of transactions does no linear scans.
#[derive(Debug)]
pub struct TransactionLayer {
    pub(super) timers: Timers,
    seed: u64,
    next_id: u64,
    next_tag: u64,
    pub(super) clients: HashMap<ClientTxId, ClientTx>,
    pub(super) servers: HashMap<ServerTxId, ServerTx>,
    pub(super) client_keys: HashMap<ClientKey, ClientTxId>,
    pub(super) server_keys: HashMap<ServerKey, ServerTxId>,
    pub(super) merge_keys: HashMap<MergeKey, ServerTxId>,
    pub(super) ack_keys: HashMap<AckKey, ServerTxId>,
    /// Where each transaction sends, for transport errors (§17.1.4, §17.2.4).
    destinations: HashMap<SocketAddr, HashSet<TxId>>,
    /// Each live transaction's next deadline, earliest first.
    deadlines: BTreeSet<(Instant, TxId)>,
    pub(super) out: Output,
}

impl TransactionLayer {
    /// `seed` is random input from the caller: the tags of the responses the layer makes up
    /// itself derive from it (see [`super::make_branch`] for branches).
    pub fn new(timers: Timers, seed: u64) -> Self {
        Self {
            timers,
            seed,
            next_id: 0,
            next_tag: 0,
            clients: HashMap::new(),
            servers: HashMap::new(),
            client_keys: HashMap::new(),
            server_keys: HashMap::new(),
            merge_keys: HashMap::new(),
            ack_keys: HashMap::new(),
            destinations: HashMap::new(),
            deadlines: BTreeSet::new(),
            out: Output::default(),
        }
    }

    /// Starts a client transaction for `request`, which already carries our top Via with a
    /// fresh `z9hG4bK` branch ([`super::make_branch`]). Its responses come back as
    /// [`Event::Response`] with the returned id.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: SocketAddr,
        transport: Transport,
    ) -> Result<ClientTxId, Error> {
        if request.method == Method::Ack {
            return Err(Error::AckInTransaction);
        }
        let key = ClientKey::of_request(&request).ok_or(Error::MissingBranch)?;
        if self.client_keys.contains_key(&key) {
            return Err(Error::DuplicateTransaction);
        }
        let id = ClientTxId(self.new_id());
        let tx = ClientTx::start(
            id,
            key.clone(),
            request,
            (destination, transport),
            &self.timers,
            now,
            &mut self.out,
        );
        self.client_keys.insert(key, id);
        self.file_destination(destination, TxId::Client(id));
        self.clients.insert(id, tx);
        self.settle_client(id);
        Ok(id)
    }

    /// Sends an ACK for a 2xx: a dialog's business, outside any transaction (§13.2.2.4).
    /// The TU repeats it for every retransmission of the 2xx it is told of.
    pub fn send_ack(&mut self, ack: &Request, destination: SocketAddr, transport: Transport) {
        self.out
            .transmit(destination, transport, Bytes::from(ack.to_bytes()));
    }

    /// Sends the TU's response in a server transaction.
    pub fn respond(
        &mut self,
        now: Instant,
        id: ServerTxId,
        response: Response,
    ) -> Result<(), Error> {
        let tx = self
            .servers
            .get_mut(&id)
            .filter(|tx| tx.emits_events())
            .ok_or(Error::UnknownTransaction)?;
        if let Some(key) = tx.respond(&response, &self.timers, now, &mut self.out)? {
            self.ack_keys.insert(key, id);
        }
        self.settle_server(id);
        Ok(())
    }

    /// Drops a request the TU will never answer, before anything was sent for it (RFC 3261
    /// allows silence toward callers a trunk does not know, e.g. to hide from scanners):
    /// no 100 Trying goes out and retransmissions are absorbed until the transaction ends
    /// after 64·T1.
    pub fn abandon(&mut self, now: Instant, id: ServerTxId) -> Result<(), Error> {
        let tx = self
            .servers
            .get_mut(&id)
            .filter(|tx| tx.emits_events())
            .ok_or(Error::UnknownTransaction)?;
        tx.abandon(&self.timers, now)?;
        self.settle_server(id);
        Ok(())
    }

    /// The transport could not reach `destination` (connection refused, ICMP unreachable):
    /// every transaction sending there ends with [`Event::TransportError`].
    pub fn handle_transport_error(&mut self, _now: Instant, destination: SocketAddr, detail: &str) {
        let Some(ids) = self.destinations.remove(&destination) else {
            return;
        };
        let mut ids: Vec<TxId> = ids.into_iter().collect();
        ids.sort_unstable();
        for id in ids {
            match id {
                TxId::Client(id) => {
                    if let Some(tx) = self.clients.get_mut(&id) {
                        tx.on_transport_error(&mut self.out, detail);
                    }
                    self.settle_client(id);
                }
                TxId::Server(id) => {
                    if let Some(tx) = self.servers.get_mut(&id) {
                        tx.on_transport_error(&mut self.out, detail);
                    }
                    self.settle_server(id);
                }
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Collected first: a transaction is visited once per call even if it reschedules
        // itself at or before `now`.
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first()
            && at <= now
        {
            self.deadlines.pop_first();
            due.push(id);
        }
        for id in due {
            match id {
                TxId::Client(id) => {
                    if let Some(tx) = self.clients.get_mut(&id) {
                        tx.scheduled = None;
                        tx.on_timeout(&self.timers, now, &mut self.out);
                    }
                    self.settle_client(id);
                }
                TxId::Server(id) => {
                    if let Some(tx) = self.servers.get_mut(&id) {
                        tx.scheduled = None;
                        tx.on_timeout(&self.timers, now, &mut self.out);
                    }
                    self.settle_server(id);
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Live transactions, client and server.
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn new_tag(&mut self) -> String {
        self.next_tag += 1;
        make_tag(self.seed, self.next_tag)
    }

    pub(super) fn file_destination(&mut self, destination: SocketAddr, id: TxId) {
        self.destinations.entry(destination).or_default().insert(id);
    }

    fn forget_destination(&mut self, destination: SocketAddr, id: TxId) {
        if let Some(ids) = self.destinations.get_mut(&destination) {
            ids.remove(&id);
            if ids.is_empty() {
                self.destinations.remove(&destination);
            }
        }
    }

    /// Refiles a client transaction under its new deadline, or forgets it if it ended.
    pub(super) fn settle_client(&mut self, id: ClientTxId) {
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        if let Some(at) = tx.scheduled.take() {
            self.deadlines.remove(&(at, TxId::Client(id)));
        }
        if !tx.is_terminated() {
            tx.scheduled = tx.next_deadline();
            if let Some(at) = tx.scheduled {
                self.deadlines.insert((at, TxId::Client(id)));
            }
            return;
        }
        if let Some(tx) = self.clients.remove(&id) {
            self.client_keys.remove(&tx.key);
            self.forget_destination(tx.destination, TxId::Client(id));
            self.out.event(Event::Terminated {
                id: TxId::Client(id),
            });
        }
    }

    /// As [`Self::settle_client`], for a server transaction.
    pub(super) fn settle_server(&mut self, id: ServerTxId) {
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        if let Some(at) = tx.scheduled.take() {
            self.deadlines.remove(&(at, TxId::Server(id)));
        }
        if !tx.is_terminated() {
            tx.scheduled = tx.next_deadline();
            if let Some(at) = tx.scheduled {
                self.deadlines.insert((at, TxId::Server(id)));
            }
            return;
        }
        let Some(tx) = self.servers.remove(&id) else {
            return;
        };
        // Keys are removed only if still ours: a key may name a newer transaction.
        if self.server_keys.get(&tx.key) == Some(&id) {
            self.server_keys.remove(&tx.key);
        }
        if let Some(merge) = &tx.merge
            && self.merge_keys.get(merge) == Some(&id)
        {
            self.merge_keys.remove(merge);
        }
        if let Some(ack) = &tx.ack_key
            && self.ack_keys.get(ack) == Some(&id)
        {
            self.ack_keys.remove(ack);
        }
        self.forget_destination(tx.destination, TxId::Server(id));
        if tx.emits_events() {
            self.out.event(Event::Terminated {
                id: TxId::Server(id),
            });
        }
    }
}
