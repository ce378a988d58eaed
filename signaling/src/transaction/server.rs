//! Server transactions: INVITE (RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §8.5,
//! where we also retransmit the 2xx until its ACK as §13.3.1.4 asks of the UAS core) and
//! non-INVITE (§17.2.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::key::{AckKey, MergeKey, ServerKey};
use super::layer::Output;
use super::{Event, Retransmit, ServerTxId, Timers, Transport, TxId};
use crate::Error;
use crate::message::{Method, Request, Response};

/// §17.2.1: a UAS sends 100 Trying itself unless the TU answers within 200 ms.
const TRYING_DELAY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Non-INVITE received, the TU has not answered.
    Trying,
    /// INVITE received, or a provisional sent: request retransmissions get it again.
    Proceeding,
    /// A final sent (300–699 for INVITE): INVITE retransmits it on G until ACK or H;
    /// non-INVITE answers retransmitted requests with it until J.
    Completed,
    /// INVITE got the ACK for its non-2xx: Timer I absorbs ACK retransmissions.
    Confirmed,
    /// INVITE answered 2xx: retransmitted until the ACK, absorbing the INVITE, until L.
    Accepted,
    /// The TU will never answer (a port hidden from unknown callers): nothing goes out,
    /// retransmitted requests are absorbed until 64·T1, so none starts a new call.
    Abandoned,
    Terminated,
}

/// One request we received, until its transaction ends.
#[derive(Debug)]
pub(crate) struct ServerTx {
    id: ServerTxId,
    state: State,
    invite: bool,
    /// Answered by the layer alone (CANCEL, 482): no events for the TU.
    internal: bool,
    pub(crate) destination: SocketAddr,
    transport: Transport,
    pub(crate) key: ServerKey,
    pub(crate) merge: Option<MergeKey>,
    pub(crate) ack_key: Option<AckKey>,
    /// The request's own To tag; RFC 2543 matching compares it after the key lookup.
    pub(crate) request_to_tag: Option<String>,
    /// The To tag of our latest response: an RFC 2543 ACK must carry it, and the 200 to a
    /// CANCEL should repeat it (§9.2).
    pub(crate) response_to_tag: Option<String>,
    /// The latest response, re-sent for retransmitted requests and by Timer G.
    last: Option<Bytes>,
    /// The automatic 100 Trying and when it goes out.
    trying: Option<(Instant, Bytes)>,
    /// Timer G, or the 2xx retransmission of §13.3.1.4.
    retransmit: Option<Retransmit>,
    /// The timer that ends the current state: H, I, J or L.
    end: Option<Instant>,
    acked: bool,
    pub(crate) scheduled: Option<Instant>,
}

impl ServerTx {
    /// A transaction for `request` (its top Via already stamped, §18.2.1).
    pub(crate) fn new(
        id: ServerTxId,
        key: ServerKey,
        request: &Request,
        (destination, transport): (SocketAddr, Transport),
        internal: bool,
        now: Instant,
    ) -> Self {
        let invite = request.method == Method::Invite;
        let trying = (invite && !internal).then(|| {
            let trying = Response::to(request, 100, None);
            (now + TRYING_DELAY, Bytes::from(trying.to_bytes()))
        });
        Self {
            id,
            state: if invite {
                State::Proceeding
            } else {
                State::Trying
            },
            invite,
            internal,
            destination,
            transport,
            key,
            merge: None,
            ack_key: None,
            request_to_tag: request.head.to.tag().map(str::to_owned),
            response_to_tag: None,
            last: None,
            trying,
            retransmit: None,
            end: None,
            acked: false,
            scheduled: None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether a CANCEL still has an effect: no final response yet (§9.2).
    pub(crate) fn is_cancellable(&self) -> bool {
        self.invite && self.state == State::Proceeding
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.trying.as_ref().map(|(at, _)| *at),
            self.retransmit.map(|r| r.at),
            self.end,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn emit(&self, out: &mut Output, event: Event) {
        if !self.internal {
            out.event(event);
        }
    }

    /// Sends the TU's response. Returns the key of the coming ACK when this was the first
    /// 2xx to an INVITE, for the layer to file.
    pub(crate) fn respond(
        &mut self,
        response: &Response,
        timers: &Timers,
        now: Instant,
        out: &mut Output,
    ) -> Result<Option<AckKey>, Error> {
        let code = response.code;
        let provisional = (100..200).contains(&code);
        let success = (200..300).contains(&code);
        let open = matches!(self.state, State::Trying | State::Proceeding);
        let allowed =
            (open && (100..700).contains(&code)) || (self.state == State::Accepted && success);
        if !allowed {
            return Err(Error::ResponseNotAllowed(code));
        }
        let bytes = Bytes::from(response.to_bytes());
        out.transmit(self.destination, self.transport, bytes.clone());
        self.last = Some(bytes);
        self.trying = None;
        if let Some(tag) = response.head.to.tag() {
            self.response_to_tag = Some(tag.to_owned());
        }
        let unreliable = !self.transport.is_reliable();
        let first_retransmit = unreliable.then_some(Retransmit::after(now, timers.t1));
        if provisional {
            self.state = State::Proceeding;
        } else if !self.invite {
            // Timer J: zero on reliable transports (§17.2.2).
            self.state = if unreliable {
                State::Completed
            } else {
                State::Terminated
            };
            self.end = Some(now + timers.t1x64());
        } else if success && self.state == State::Accepted {
            // A further 2xx from the TU (RFC 6026 §8.5): it replaces the one we repeat.
        } else if success {
            self.state = State::Accepted;
            self.retransmit = first_retransmit;
            self.end = Some(now + timers.t1x64());
            let key = AckKey::of_response(response);
            self.ack_key = Some(key.clone());
            return Ok(Some(key));
        } else {
            // Timer H runs on every transport: a missing ACK is reported either way.
            self.state = State::Completed;
            self.retransmit = first_retransmit;
            self.end = Some(now + timers.t1x64());
        }
        Ok(None)
    }

    /// The TU drops the request without a word: see [`State::Abandoned`].
    pub(crate) fn abandon(&mut self, timers: &Timers, now: Instant) -> Result<(), Error> {
        if !matches!(self.state, State::Trying | State::Proceeding) || self.last.is_some() {
            // Something was sent already: silence now would only leave the peer retrying.
            return Err(Error::AbandonAfterResponse);
        }
        self.state = State::Abandoned;
        self.trying = None;
        self.end = Some(now + timers.t1x64());
        Ok(())
    }

    /// A retransmission of the request that created this transaction.
    pub(crate) fn on_retransmission(&mut self, out: &mut Output) {
        // Proceeding: the last provisional, if the TU or Timer 100 sent one (§17.2.1);
        // Completed: the final. Accepted absorbs (RFC 6026 §8.5): the 2xx has its timer.
        if matches!(self.state, State::Proceeding | State::Completed)
            && let Some(last) = &self.last
        {
            out.transmit(self.destination, self.transport, last.clone());
        }
    }

    /// An ACK matched to this transaction, by branch or (for a 2xx) by dialog.
    pub(crate) fn on_ack(&mut self, ack: Request, timers: &Timers, now: Instant, out: &mut Output) {
        match self.state {
            State::Completed if self.invite => {
                self.retransmit = None;
                if self.transport.is_reliable() {
                    // Timer I is zero on reliable transports.
                    self.state = State::Terminated;
                } else {
                    self.state = State::Confirmed;
                    self.end = Some(now + timers.t4);
                }
            }
            State::Accepted if !self.acked => {
                self.acked = true;
                self.retransmit = None;
                self.emit(out, Event::AckReceived { id: self.id, ack });
            }
            // Retransmitted ACKs, and an ACK before any final: absorbed.
            _ => {}
        }
    }

    pub(crate) fn on_timeout(&mut self, timers: &Timers, now: Instant, out: &mut Output) {
        if let Some((at, trying)) = self.trying.take() {
            if at <= now {
                out.transmit(self.destination, self.transport, trying.clone());
                self.last = Some(trying);
            } else {
                self.trying = Some((at, trying));
            }
        }
        if let Some(retransmit) = self.retransmit
            && retransmit.at <= now
        {
            if let Some(last) = &self.last {
                out.transmit(self.destination, self.transport, last.clone());
            }
            let interval = timers.double_capped(retransmit.interval);
            self.retransmit = Some(Retransmit::after(now, interval));
        }
        if self.end.is_some_and(|end| end <= now) {
            let unacked = match self.state {
                State::Completed => self.invite,
                State::Accepted => !self.acked,
                _ => false,
            };
            if unacked {
                self.emit(out, Event::NoAck { id: self.id });
            }
            self.state = State::Terminated;
            self.retransmit = None;
            self.end = None;
        }
    }

    pub(crate) fn on_transport_error(&mut self, out: &mut Output, detail: &str) {
        self.emit(
            out,
            Event::TransportError {
                id: TxId::Server(self.id),
                detail: detail.to_owned(),
            },
        );
        self.state = State::Terminated;
    }

    pub(crate) fn emits_events(&self) -> bool {
        !self.internal
    }
}
