//! Client transactions: INVITE (RFC 3261 §17.1.1 with the Accepted state of RFC 6026 §8.4)
//! and non-INVITE (§17.1.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::key::ClientKey;
use super::layer::Output;
use super::{ClientTxId, Event, Retransmit, Timers, Transport};
use crate::message::{CSeq, Head, Headers, Method, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing heard (Timers A, B).
    Calling,
    /// Non-INVITE sent, nothing heard (Timers E, F).
    Trying,
    /// A provisional arrived. INVITE waits for its final as long as the TU likes; non-INVITE
    /// keeps E (at T2) and F running.
    Proceeding,
    /// A final arrived (300–699 for INVITE, any for non-INVITE): Timer D or K absorbs its
    /// retransmissions.
    Completed,
    /// INVITE got a 2xx: Timer M keeps passing 2xx retransmissions and forks up.
    Accepted,
    Terminated,
}

/// One request we sent, until its transaction ends.
#[derive(Debug)]
pub(crate) struct ClientTx {
    id: ClientTxId,
    state: State,
    invite: bool,
    /// Kept to build the ACK for a non-2xx final (§17.1.1.3).
    request: Request,
    bytes: Bytes,
    pub(crate) destination: SocketAddr,
    transport: Transport,
    pub(crate) key: ClientKey,
    /// Timer A or E.
    retransmit: Option<Retransmit>,
    /// The one timer that ends the current state: B, F (timeout), D, K or M (end).
    end: Option<Instant>,
    /// The ACK for our non-2xx final, re-sent for each retransmission of it.
    ack: Option<Bytes>,
    /// The deadline this transaction is filed under in the layer's timer set.
    pub(crate) scheduled: Option<Instant>,
}

impl ClientTx {
    /// Sends `request` and starts Timer A/E (UDP only) and B/F.
    pub(crate) fn start(
        id: ClientTxId,
        key: ClientKey,
        request: Request,
        (destination, transport): (SocketAddr, Transport),
        timers: &Timers,
        now: Instant,
        out: &mut Output,
    ) -> Self {
        let invite = request.method == Method::Invite;
        let bytes = Bytes::from(request.to_bytes());
        out.transmit(destination, transport, bytes.clone());
        let retransmit = (!transport.is_reliable()).then_some(Retransmit::after(now, timers.t1));
        Self {
            id,
            state: if invite {
                State::Calling
            } else {
                State::Trying
            },
            invite,
            request,
            bytes,
            destination,
            transport,
            key,
            retransmit,
            end: Some(now + timers.t1x64()),
            ack: None,
            scheduled: None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let retransmit = self.retransmit.map(|r| r.at);
        match (retransmit, self.end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn on_response(
        &mut self,
        response: Response,
        timers: &Timers,
        now: Instant,
        out: &mut Output,
    ) {
        let id = self.id;
        let provisional = response.code < 200;
        let success = (200..300).contains(&response.code);
        match (self.state, self.invite) {
            (State::Calling | State::Trying | State::Proceeding, _) if provisional => {
                if self.state == State::Calling {
                    // An INVITE that got a provisional waits for the TU (§17.1.1.2).
                    self.retransmit = None;
                    self.end = None;
                }
                self.state = State::Proceeding;
                out.event(Event::Response { id, response });
            }
            (State::Calling | State::Proceeding, true) if success => {
                // RFC 6026 §8.4: the 2xx ACK is the TU's; we stay to pass up more 2xx.
                self.state = State::Accepted;
                self.retransmit = None;
                self.end = Some(now + timers.t1x64());
                out.event(Event::Response { id, response });
            }
            (State::Calling | State::Proceeding, true) => {
                let ack = Bytes::from(self.ack_for(&response).to_bytes());
                out.transmit(self.destination, self.transport, ack.clone());
                self.ack = Some(ack);
                self.retransmit = None;
                self.complete(timers.d(), now);
                out.event(Event::Response { id, response });
            }
            (State::Trying | State::Proceeding, false) => {
                self.retransmit = None;
                self.complete(timers.t4, now);
                out.event(Event::Response { id, response });
            }
            // Every 2xx is passed up (RFC 6026 §8.4), even one from a fork that answered
            // after another fork's error: the TU ACKs it and hangs up.
            (State::Accepted | State::Completed, true) if success => {
                out.event(Event::Response { id, response });
            }
            (State::Completed, true) if !provisional => {
                if let Some(ack) = &self.ack {
                    out.transmit(self.destination, self.transport, ack.clone());
                }
            }
            // Late provisionals, retransmitted non-INVITE finals: absorbed.
            _ => {}
        }
    }

    /// Enters Completed; Timer D or K is `linger` on UDP and zero on reliable transports.
    fn complete(&mut self, linger: Duration, now: Instant) {
        if self.transport.is_reliable() {
            self.state = State::Terminated;
        } else {
            self.state = State::Completed;
            self.end = Some(now + linger);
        }
    }

    pub(crate) fn on_timeout(&mut self, timers: &Timers, now: Instant, out: &mut Output) {
        if let Some(retransmit) = self.retransmit
            && retransmit.at <= now
        {
            out.transmit(self.destination, self.transport, self.bytes.clone());
            let interval = match (self.invite, self.state) {
                // Timer A doubles without a cap; it is bounded by B (§17.1.1.2).
                (true, _) => retransmit.interval.saturating_mul(2),
                // E fired in Proceeding: T2 from now on (§17.1.2.2).
                (false, State::Proceeding) => timers.t2,
                (false, _) => timers.double_capped(retransmit.interval),
            };
            self.retransmit = Some(Retransmit::after(now, interval));
        }
        if self.end.is_some_and(|end| end <= now) {
            if matches!(
                self.state,
                State::Calling | State::Trying | State::Proceeding
            ) {
                out.event(Event::Timeout { id: self.id });
            }
            self.state = State::Terminated;
            self.retransmit = None;
            self.end = None;
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Output, detail: &str) {
        out.event(Event::TransportError {
            id: super::TxId::Client(self.id),
            detail: detail.to_owned(),
        });
        self.state = State::Terminated;
    }

    /// The ACK for a non-2xx final (§17.1.1.3): the INVITE's Request-URI, Call-ID, From,
    /// CSeq number and top Via (so the same branch), the response's To (with its tag), the
    /// INVITE's Route headers, no body.
    fn ack_for(&self, response: &Response) -> Request {
        let invite = &self.request.head;
        let mut other = Headers::new();
        for route in invite.other.all("Route") {
            other.push("Route", route);
        }
        Request {
            method: Method::Ack,
            uri: self.request.uri.clone(),
            head: Head {
                via: invite.via.first().cloned().into_iter().collect(),
                from: invite.from.clone(),
                to: response.head.to.clone(),
                call_id: invite.call_id.clone(),
                cseq: CSeq {
                    seq: invite.cseq.seq,
                    method: Method::Ack,
                },
                max_forwards: Some(70),
                contact: Vec::new(),
                content_type: None,
                other,
            },
            body: Bytes::new(),
        }
    }
}
