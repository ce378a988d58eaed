//! Placing a call (RFC 3261 §13.2): the INVITE we send, the one digest retry a carrier's
//! 401/407 earns (§22.2), the CANCEL that withdraws it (§9.1), and the end it comes to as an
//! [`OutboundEnd`] (docs/OUTCOMES.md, "Outbound INVITE").
//!
//! Sans-IO like the rest of the crate: the caller sends what [`Dialer`] builds through the
//! transaction layer and feeds back the responses, the INVITE transaction's timeout and
//! transport errors. A 2xx is handed back for the caller to form the dialog and ACK it.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::{self, pick_challenge};
use crate::message::{CSeq, CallId, Head, Headers, Method, NameAddr, Request, Response, Uri, Via};
use crate::outcome::{OutboundEnd, SipStatus};
use crate::transaction::make_branch;

/// What the INVITE is made of. `via` is ours (its branch is replaced on every attempt);
/// `headers` are added as given (User-Agent, the carrier's and the API caller's headers).
#[derive(Debug, Clone)]
pub struct InviteParams {
    pub request_uri: Uri,
    /// Our From, carrying our tag.
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: CallId,
    pub contact: NameAddr,
    pub via: Via,
    pub sdp_offer: Bytes,
    pub headers: Vec<(String, String)>,
    /// Digest username and password for the carrier's challenges.
    pub credentials: Option<(String, String)>,
}

/// Why we withdraw the INVITE: the outcome differs (docs/OUTCOMES.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelCause {
    /// `ringing_timeout` passed with the phone ringing.
    RingingTimeout,
    /// The API caller gave up, or the room closed, before the answer.
    Caller,
}

/// What a response to the INVITE means for the call.
#[derive(Debug, PartialEq)]
pub enum DialStep {
    /// Nothing for the caller to do (a 100, a retransmission, a stray response).
    Nothing,
    /// Send this request: the INVITE again with credentials, or a CANCEL that waited for the
    /// first provisional response (§9.1).
    Send(Box<Request>),
    /// 101–199: the phone rings or plays early media (`sdp`, the 183's body).
    Progress { code: u16, sdp: Option<Bytes> },
    /// A 2xx while the call is wanted: ACK it and form the dialog.
    Answered,
    /// A 2xx that crossed our CANCEL: ACK it, hang up at once, and end with this.
    AnsweredTooLate(OutboundEnd),
    /// A final non-2xx: the call never came to be.
    Ended(OutboundEnd),
}

/// One outbound INVITE from its first attempt to its final response.
#[derive(Debug)]
pub struct Dialer {
    params: InviteParams,
    invite: Request,
    /// A provisional response arrived: a CANCEL may be sent now (§9.1).
    provisional: bool,
    /// Any response at all arrived (the "no response" row needs none).
    responded: bool,
    challenge_answered: bool,
    cancel: Option<CancelCause>,
    cancel_sent: bool,
    done: bool,
    /// The call's time is up with no response at all: it ended, the transaction goes on.
    abandoned: bool,
    /// `ringing_timeout` from the first INVITE ([`Dialer::with_timers`]).
    ringing_deadline: Option<Instant>,
    /// How long the far end has to end the INVITE after our CANCEL.
    cancel_grace: Duration,
    give_up: GiveUp,
}

/// When the call stops waiting for the INVITE's final response after our CANCEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GiveUp {
    /// No CANCEL sent.
    Unarmed,
    /// A CANCEL went out; the next [`Dialer::handle_timeout`] starts the grace.
    Armed,
    At(Instant),
}

/// What the clock decided ([`Dialer::handle_timeout`]).
#[derive(Debug, PartialEq)]
pub enum DialTimeout {
    Nothing,
    /// The ringing timeout passed with the phone ringing: send this CANCEL (§9.1).
    Cancel(Box<Request>),
    /// The call ends now with this, before the INVITE's final response: the ringing timeout
    /// passed with no response at all (no CANCEL may be sent, §9.1), or our CANCEL got no
    /// final response within the grace. The transaction runs out on its own; a late 2xx
    /// must still be ACKed and hung up (§15).
    GiveUp(OutboundEnd),
}

impl Dialer {
    /// The first INVITE, CSeq 1, branch from `random`.
    pub fn new(params: InviteParams, random: u64) -> Self {
        let invite = build_invite(&params, 1, random, None);
        Self {
            params,
            invite,
            provisional: false,
            responded: false,
            challenge_answered: false,
            cancel: None,
            cancel_sent: false,
            done: false,
            abandoned: false,
            ringing_deadline: None,
            cancel_grace: Duration::ZERO,
            give_up: GiveUp::Unarmed,
        }
    }

    /// The call's timers, from `now` (the INVITE going out): the caller's `ringing_timeout`,
    /// and the `cancel_grace` a far end gets to answer our CANCEL with its 487.
    pub fn with_timers(
        mut self,
        now: Instant,
        ringing_timeout: Duration,
        cancel_grace: Duration,
    ) -> Self {
        self.ringing_deadline = Some(now + ringing_timeout);
        self.cancel_grace = cancel_grace;
        self
    }

    /// When [`Dialer::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done || self.abandoned {
            return None;
        }
        let ringing = self.ringing_deadline.filter(|_| self.cancel.is_none());
        let give_up = match self.give_up {
            GiveUp::At(at) => Some(at),
            GiveUp::Unarmed | GiveUp::Armed => None,
        };
        [ringing, give_up].into_iter().flatten().min()
    }

    /// The ringing timeout and the CANCEL's grace, at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> DialTimeout {
        if self.done || self.abandoned {
            return DialTimeout::Nothing;
        }
        if self.give_up == GiveUp::Armed {
            self.give_up = GiveUp::At(now + self.cancel_grace);
        }
        if let GiveUp::At(at) = self.give_up
            && now >= at
            && let Some(end) = self.give_up()
        {
            return DialTimeout::GiveUp(end);
        }
        let ringing_over = self.ringing_deadline.is_some_and(|at| now >= at);
        if !ringing_over || self.cancel.is_some() {
            return DialTimeout::Nothing;
        }
        if !self.responded {
            // The CANCEL waits for a provisional response that may still come (§9.1).
            self.cancel = Some(CancelCause::RingingTimeout);
            self.abandoned = true;
            return DialTimeout::GiveUp(OutboundEnd::NoResponse);
        }
        match self.cancel(CancelCause::RingingTimeout) {
            Some(cancel) => {
                self.give_up = GiveUp::At(now + self.cancel_grace);
                DialTimeout::Cancel(Box::new(cancel))
            }
            None => DialTimeout::Nothing,
        }
    }

    /// The INVITE as last sent: what a 2xx forms its dialog with.
    pub fn invite(&self) -> &Request {
        &self.invite
    }

    /// Whether the phone has answered or refused, or the attempt otherwise ended.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether any response at all came back to the INVITE.
    pub fn responded(&self) -> bool {
        self.responded
    }

    /// Whether a provisional response arrived, so a CANCEL may be sent (§9.1).
    pub fn provisional_received(&self) -> bool {
        self.provisional
    }

    /// Whether a CANCEL was asked for (sent or waiting for a provisional response).
    pub fn cancelling(&self) -> Option<CancelCause> {
        self.cancel
    }

    /// A response to the INVITE (any attempt). `random` feeds the cnonce and branch of a
    /// digest retry.
    pub fn on_response(&mut self, response: &Response, random: u64) -> DialStep {
        if self.done || response.head.cseq.method != Method::Invite {
            return DialStep::Nothing;
        }
        if response.head.cseq.seq != self.invite.head.cseq.seq {
            // A late answer to the attempt our digest retry replaced.
            return DialStep::Nothing;
        }
        self.responded = true;
        match response.code {
            100..=199 => {
                self.provisional = true;
                if let Some(cancel) = self.take_deferred_cancel() {
                    return DialStep::Send(Box::new(cancel));
                }
                if response.code == 100 {
                    return DialStep::Nothing;
                }
                let sdp = (!response.body.is_empty() && is_sdp(&response.head))
                    .then(|| response.body.clone());
                DialStep::Progress {
                    code: response.code,
                    sdp,
                }
            }
            200..=299 => {
                self.done = true;
                match self.cancel {
                    Some(cause) => DialStep::AnsweredTooLate(self.cancelled_end(cause, None)),
                    None => DialStep::Answered,
                }
            }
            401 | 407 if self.cancel.is_none() => {
                match self.retry_with_credentials(response, random) {
                    Some(retry) => DialStep::Send(Box::new(retry)),
                    None => self.end(response),
                }
            }
            _ => self.end(response),
        }
    }

    /// Withdraws the INVITE: the CANCEL to send now, or `None` when it must wait for the
    /// first provisional response (§9.1) or the attempt is already over.
    pub fn cancel(&mut self, cause: CancelCause) -> Option<Request> {
        if self.done || self.cancel.is_some() {
            return None;
        }
        self.cancel = Some(cause);
        self.take_deferred_cancel()
    }

    /// The INVITE transaction timed out (Timer B: nothing came back).
    pub fn on_timeout(&mut self) -> OutboundEnd {
        self.done = true;
        match self.cancel {
            Some(CancelCause::Caller) => OutboundEnd::Cancelled,
            // A ringing timeout needs the phone to have rung; with no response at all it is
            // the "no response" row.
            _ if !self.responded => OutboundEnd::NoResponse,
            Some(CancelCause::RingingTimeout) => OutboundEnd::RingingTimeout { response: None },
            None => OutboundEnd::NoResponse,
        }
    }

    /// The INVITE could not be delivered (connection refused, unreachable).
    pub fn on_transport_error(&mut self, detail: &str) -> OutboundEnd {
        self.done = true;
        match self.cancel {
            Some(CancelCause::Caller) => OutboundEnd::Cancelled,
            _ => OutboundEnd::TransportFailure {
                detail: detail.to_owned(),
            },
        }
    }

    /// A CANCEL went out but no final response followed in time: end as if it had.
    pub fn give_up(&mut self) -> Option<OutboundEnd> {
        let cause = self.cancel?;
        self.done = true;
        Some(self.cancelled_end(cause, None))
    }

    fn end(&mut self, response: &Response) -> DialStep {
        self.done = true;
        let status = SipStatus::new(response.code, response.reason.clone());
        DialStep::Ended(match self.cancel {
            Some(cause) => self.cancelled_end(cause, Some(status)),
            None => OutboundEnd::Rejected(status),
        })
    }

    fn cancelled_end(&self, cause: CancelCause, response: Option<SipStatus>) -> OutboundEnd {
        match cause {
            CancelCause::Caller => OutboundEnd::Cancelled,
            CancelCause::RingingTimeout => OutboundEnd::RingingTimeout { response },
        }
    }

    fn take_deferred_cancel(&mut self) -> Option<Request> {
        if self.cancel.is_none() || self.cancel_sent || !self.provisional {
            return None;
        }
        self.cancel_sent = true;
        if self.give_up == GiveUp::Unarmed {
            self.give_up = GiveUp::Armed;
        }
        Some(build_cancel(&self.invite))
    }

    /// The INVITE again with an answer to the challenge, once per call: a second challenge
    /// means the credentials are wrong (docs/OUTCOMES.md).
    fn retry_with_credentials(&mut self, response: &Response, random: u64) -> Option<Request> {
        let (username, password) = self.params.credentials.as_ref()?;
        if self.challenge_answered {
            return None;
        }
        let (challenge_header, answer_header) = if response.code == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = pick_challenge(response.head.other.all(challenge_header), None).ok()?;
        let uri = self.invite.uri.to_string();
        let cnonce = auth::cnonce_from_bytes(&random.to_be_bytes());
        let answer =
            auth::respond(&challenge, "INVITE", &uri, username, password, &cnonce, 1).ok()?;
        self.challenge_answered = true;
        let seq = self.invite.head.cseq.seq.checked_add(1)?;
        // Fresh branch: a new transaction (§22.2, §8.1.3.5).
        let branch_random = random.rotate_left(17) ^ 0x5bd1_e995;
        self.invite = build_invite(
            &self.params,
            seq,
            branch_random,
            Some((answer_header, answer)),
        );
        Some(self.invite.clone())
    }
}

fn is_sdp(head: &Head) -> bool {
    head.media_type() == Some("application/sdp")
}

fn build_invite(
    params: &InviteParams,
    seq: u32,
    random: u64,
    authorization: Option<(&str, String)>,
) -> Request {
    let mut via = params.via.clone();
    via.params.set("branch", Some(make_branch(random)));
    let mut other = Headers::new();
    for (name, value) in &params.headers {
        other.push(name, value.clone());
    }
    if let Some((name, value)) = authorization {
        other.push(name, value);
    }
    Request {
        method: Method::Invite,
        uri: params.request_uri.clone(),
        head: Head {
            via: vec![via],
            from: params.from.clone(),
            to: params.to.clone(),
            call_id: params.call_id.clone(),
            cseq: CSeq {
                seq,
                method: Method::Invite,
            },
            max_forwards: Some(70),
            contact: vec![params.contact.clone()],
            content_type: Some("application/sdp".into()),
            other,
        },
        body: params.sdp_offer.clone(),
    }
}

/// §9.1: the CANCEL repeats the INVITE's Request-URI, Call-ID, To, From, CSeq number and
/// Route, and its top Via (same branch), so the peer matches it to the INVITE.
pub fn build_cancel(invite: &Request) -> Request {
    let mut other = Headers::new();
    for route in invite.head.other.all("Route") {
        other.push("Route", route.to_owned());
    }
    Request {
        method: Method::Cancel,
        uri: invite.uri.clone(),
        head: Head {
            via: invite.head.via.first().cloned().into_iter().collect(),
            from: invite.head.from.clone(),
            to: invite.head.to.clone(),
            call_id: invite.head.call_id.clone(),
            cseq: CSeq {
                seq: invite.head.cseq.seq,
                method: Method::Cancel,
            },
            max_forwards: Some(70),
            contact: Vec::new(),
            content_type: None,
            other,
        },
        body: Bytes::new(),
    }
}

#[cfg(test)]
#[path = "dial_tests.rs"]
mod tests;
