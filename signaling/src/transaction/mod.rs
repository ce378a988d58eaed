//! The RFC 3261 §17 transaction layer, sans-IO, with the INVITE fixes of RFC 6026.
//!
//! One [`TransactionLayer`] owns every client and server transaction of an endpoint, in the
//! shape of str0m: the caller feeds it what arrived (`handle_request`, `handle_response`,
//! `handle_transport_error`) and what the transaction user (TU) wants sent (`send_request`,
//! `respond`, `send_ack`), and drains [`Transmit`]s, [`Event`]s and the next deadline
//! (`poll_transmit`, `poll_event`, `poll_timeout`). Time is always an argument; sockets,
//! the clock and randomness belong to the caller.
//!
//! Beyond RFC 3261 §17 proper, the layer does the chores a UAS core would otherwise repeat
//! for every transaction: it answers CANCEL (§9.2) and merged requests (§8.2.2.2) itself,
//! sends 100 Trying for a silent TU (§17.2.1), and retransmits a 2xx to INVITE until its
//! ACK arrives (§13.3.1.4), reporting either the ACK or its absence.

mod client;
mod inbound;
mod key;
mod layer;
mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::{BRANCH_COOKIE, Request, Response};

pub use layer::TransactionLayer;

/// How a message travels. Only UDP loses messages, so only UDP transactions retransmit and
/// linger to absorb retransmissions (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Whether the transport delivers in order without loss (TCP, TLS).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The name in a Via header (RFC 3261 §20.42).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The transport a Via header names, if it is one of ours.
    pub fn from_via_name(name: &str) -> Option<Self> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|transport| transport.via_name().eq_ignore_ascii_case(name))
    }
}

/// The timer base values of RFC 3261 §17.1.1.1 and Table 4; every other timer derives from
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate: first retransmission interval; 64·T1 bounds every transaction.
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// Longest time a message stays in the network: how long completed transactions
    /// linger on UDP to absorb retransmissions (Timers I and K).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// Timers B, F, H, J, L and M.
    pub(crate) fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: "at least 32 seconds" on UDP (§17.1.1.2), and never shorter than the
    /// server's Timer H, during which it may retransmit its final response.
    pub(crate) fn d(&self) -> Duration {
        Duration::from_secs(32).max(self.t1x64())
    }

    /// A doubled retransmission interval, capped at T2 (§17.1.2.2, §17.2.1).
    pub(crate) fn double_capped(&self, interval: Duration) -> Duration {
        interval.saturating_mul(2).min(self.t2)
    }
}

/// Bytes to send. On a reliable transport `destination` names the connection: for
/// responses it is the address the request came from (RFC 3261 §18.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub transport: Transport,
    pub bytes: Bytes,
}

/// A transaction we started (a request we sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub(crate) u64);

/// A transaction a peer started (a request we received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub(crate) u64);

impl ServerTxId {
    /// An id no transaction layer made: for driving a call's decisions without one (the
    /// call-level tests on a virtual clock). Ids from a layer never collide with each
    /// other; these are the caller's to keep apart.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }
}

/// Either kind of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxId {
    Client(ClientTxId),
    Server(ServerTxId),
}

/// What the transaction user is told. Every transaction the TU knows ends with exactly one
/// [`Event::Terminated`]; the transactions the layer answers alone (CANCEL, 482) are never
/// reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new request, once (retransmissions are absorbed). The TU answers it with
    /// [`TransactionLayer::respond`]. The top Via already carries `received`/`rport`
    /// (§18.2.1), so [`Response::to`] builds a correctly routed response.
    Request {
        id: ServerTxId,
        request: Request,
        source: SocketAddr,
        transport: Transport,
    },
    /// A CANCEL matched this INVITE before its final response (§9.2). The layer already
    /// answered the CANCEL 200; the TU should now answer the INVITE 487.
    Cancelled { id: ServerTxId, cancel: Request },
    /// A response to our request: provisional, final, and for INVITE every 2xx, including
    /// retransmissions and forks (RFC 6026 §8.4), each of which the TU must ACK itself.
    /// Retransmitted non-2xx finals are absorbed (and ACKed) here.
    Response { id: ClientTxId, response: Response },
    /// A 2xx to INVITE matching no transaction: a fork or a retransmission arriving after
    /// Timer M (RFC 6026 §7.2). The TU ACKs it (and sends BYE if it wants no such dialog).
    /// Other unmatched responses are dropped (§18.1.2).
    StrayResponse {
        response: Response,
        transport: Transport,
    },
    /// The ACK for the 2xx this INVITE transaction sent; its retransmissions stop.
    AckReceived { id: ServerTxId, ack: Request },
    /// No final response within 64·T1 (Timer B or F): the TU treats it as a 408 (§8.1.3.1).
    Timeout { id: ClientTxId },
    /// The transport reported that the transaction's destination is unreachable
    /// (§17.1.4, §17.2.4); the transaction ends. `detail` says why (for the record).
    TransportError { id: TxId, detail: String },
    /// No ACK arrived for our final response: Timer H for a non-2xx (§17.2.1) or Timer L
    /// for a 2xx, after which the TU ends the dialog with BYE (§13.3.1.4).
    NoAck { id: ServerTxId },
    /// The transaction is gone; its id will not appear again.
    Terminated { id: TxId },
}

/// A branch for a new client transaction (§8.1.1.7): the RFC 3261 cookie and 64 bits the
/// caller drew from its random source, so that branches are unique across endpoints.
pub fn make_branch(random: u64) -> String {
    format!("{BRANCH_COOKIE}{random:016x}")
}

/// A tag (§19.3) the layer puts on the responses it makes up (481, 482, the 200 to CANCEL
/// before the TU chose one): splitmix64 of the caller's seed and a counter, so each layer
/// instance gives distinct, unpredictable tags without a random source of its own.
/// A scheduled retransmission (unreliable transports only): when, and the interval after
/// that one.
#[derive(Debug, Clone, Copy)]
struct Retransmit {
    at: Instant,
    interval: Duration,
}

impl Retransmit {
    fn after(now: Instant, interval: Duration) -> Self {
        Self {
            at: now + interval,
            interval,
        }
    }
}

pub(crate) fn make_tag(seed: u64, counter: u64) -> String {
    let mut z = seed.wrapping_add(counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:x}", z ^ (z >> 31))
}

/// The response the layer itself sends: `code` to `request`, with `to_tag` added unless
/// the request's To already has one.
pub(crate) fn local_response(request: &Request, code: u16, to_tag: &str) -> Response {
    let mut response = Response::to(request, code, None);
    response.set_to_tag(to_tag);
    response
}
