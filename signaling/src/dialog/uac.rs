//! Our side as sender in a dialog: building requests (RFC 3261 §12.2.1.1), the ACK for a
//! 2xx (§13.2.2.4), and what the responses to our requests change (§12.2.1.2, §14.1,
//! RFC 4028 §7.2, §7.4).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::timer::{self, Running};
use super::{
    Body, Dialog, DialogEvent, DialogState, OutgoingRequest, Pending, Role, TerminationCause,
    contact_target, is_success, route,
};
use crate::Error;
use crate::message::{CSeq, Head, Headers, Method, Request, Response, Via};

/// The glare back-off of RFC 3261 §14.1, in units of 10 ms: 2.1–4 s for the owner of the
/// Call-ID, 0–2 s for the other side, so the two retries do not collide again.
pub fn glare_retry_delay(owns_call_id: bool, random: u32) -> Duration {
    let steps = if owns_call_id {
        210 + random % 191
    } else {
        random % 201
    };
    Duration::from_millis(u64::from(steps) * 10)
}

/// Requests that replace the remote target, so carry our Contact: INVITE and UPDATE
/// (RFC 3261 §12.2, RFC 3311 §5.1), SUBSCRIBE and NOTIFY (RFC 6665 §4.1), and REFER,
/// which "MUST contain a single Contact" (RFC 3515 §2).
fn carries_contact(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

impl Dialog {
    /// A request in this dialog (§12.2.1.1): Request-URI and Route from the route set and
    /// remote target, From/To with tags, the next CSeq, Max-Forwards 70, our Contact for
    /// target-refresh methods, RFC 4028 headers on INVITE/UPDATE, and `via` (the caller's,
    /// with a fresh branch) as the only Via.
    ///
    /// An INVITE, or an UPDATE with a body, is an offer: refused with
    /// [`Error::OfferPending`] while another is in progress either way (§14.1, RFC 3311
    /// §5.1). A BYE terminates the dialog; a BYE may still be rebuilt afterwards (an
    /// authentication retry).
    pub fn build_request(
        &mut self,
        method: Method,
        via: Via,
        body: Option<Body>,
    ) -> Result<OutgoingRequest, Error> {
        if matches!(method, Method::Ack | Method::Cancel) {
            return Err(Error::DialogMethod(method.to_string()));
        }
        let bye_again = method == Method::Bye && self.cause == Some(TerminationCause::LocalBye);
        if self.state == DialogState::Terminated && !bye_again {
            return Err(Error::DialogTerminated);
        }
        let offer = method == Method::Invite || (method == Method::Update && body.is_some());
        if offer && (self.our_offer.is_some() || self.peer_offer.is_some()) {
            return Err(Error::OfferPending);
        }
        let seq = match self.local_cseq {
            None => 1,
            Some(last) => last.checked_add(1).ok_or(Error::CSeqExhausted)?,
        };
        let mut out = self.skeleton(method.clone(), seq, via, body)?;
        if carries_contact(&method) {
            out.request.head.contact.push(self.local_contact.clone());
        }
        if matches!(method, Method::Invite | Method::Update) {
            timer::refresh_headers(
                self.session_timer(),
                &self.config,
                &mut out.request.head.other,
            );
        }
        self.local_cseq = Some(seq);
        if offer {
            self.our_offer = Some(Pending { cseq: seq, method });
        } else if method == Method::Bye {
            self.terminate(TerminationCause::LocalBye);
        }
        Ok(out)
    }

    /// The ACK for a 2xx to an INVITE (§13.2.2.4): built like any in-dialog request but with
    /// the INVITE's CSeq number, method ACK, and the caller's new branch. Works after the
    /// dialog ended too: every 2xx is acknowledged.
    pub fn build_ack(
        &self,
        response: &Response,
        via: Via,
        body: Option<Body>,
    ) -> Result<OutgoingRequest, Error> {
        if response.head.cseq.method != Method::Invite || !is_success(response) {
            return Err(Error::DialogMethod(format!("ACK for a {}", response.code)));
        }
        if !self.matches_sent(&response.head) {
            return Err(Error::DialogMismatch);
        }
        self.skeleton(Method::Ack, response.head.cseq.seq, via, body)
    }

    fn skeleton(
        &self,
        method: Method,
        seq: u32,
        via: Via,
        body: Option<Body>,
    ) -> Result<OutgoingRequest, Error> {
        let routing = route::route(&self.route_set, &self.remote_target)?;
        let mut other = Headers::new();
        for value in routing.routes {
            other.push("Route", value);
        }
        let (content_type, body) = match body {
            Some(body) => (Some(body.content_type), body.data),
            None => (None, Bytes::new()),
        };
        let request = Request {
            method: method.clone(),
            uri: routing.request_uri,
            head: Head {
                via: vec![via],
                from: self.local.clone(),
                to: self.remote.clone(),
                call_id: self.id.call_id.clone(),
                cseq: CSeq { seq, method },
                max_forwards: Some(70),
                contact: Vec::new(),
                content_type,
                other,
            },
            body,
        };
        Ok(OutgoingRequest {
            request,
            next_hop: routing.next_hop,
        })
    }

    /// A response to a request we sent in this dialog, or to the INVITE that formed it. A
    /// transaction timeout counts as a 408 (§8.1.3.1). `random` feeds the glare back-off
    /// after a 491; it is unused otherwise.
    ///
    /// An error (a 2xx with an unusable Contact, Record-Route or Session-Expires) leaves
    /// the dialog unchanged.
    pub fn on_response(
        &mut self,
        request: &Request,
        response: &Response,
        now: Instant,
        random: u32,
    ) -> Result<(), Error> {
        if !self.matches_sent(&response.head) || response.head.call_id != request.head.call_id {
            return Err(Error::DialogMismatch);
        }
        let CSeq { seq, ref method } = response.head.cseq;
        let refresh = matches!(method, Method::Invite | Method::Update);
        let initial = self.role == Role::Uac
            && *method == Method::Invite
            && seq == self.initial_cseq
            && self.state == DialogState::Early;
        if response.code < 200 {
            // A later provisional response may name a better target for the early dialog.
            if initial && let Ok(Some(target)) = contact_target(&response.head) {
                self.remote_target = target;
            }
            return Ok(());
        }
        if is_success(response) {
            return self.on_success(response, initial, now);
        }
        if self.our_offer.as_ref().is_some_and(|p| p.cseq == seq) {
            self.our_offer = None;
        }
        match response.code {
            _ if initial => self.terminate(TerminationCause::Rejected(response.code)),
            491 if refresh => {
                let at = now + glare_retry_delay(self.owns_call_id(), random);
                self.glare_retry = Some((at, method.clone()));
            }
            // RFC 4028 §7.4: the refresh asked for less than the peer's minimum; the
            // next one carries at least that, and it is due now.
            422 if refresh => {
                if let (Some(min_se), Some(running)) =
                    (timer::min_se_of_422(response)?, &mut self.session)
                {
                    running.timer.interval = running.timer.interval.max(min_se);
                }
                self.events.push_back(DialogEvent::SessionRefreshDue);
            }
            408 | 481 => self.terminate(TerminationCause::RequestFailed(response.code)),
            _ => {}
        }
        Ok(())
    }

    fn on_success(
        &mut self,
        response: &Response,
        initial: bool,
        now: Instant,
    ) -> Result<(), Error> {
        let CSeq { seq, ref method } = response.head.cseq;
        let refresh = matches!(method, Method::Invite | Method::Update);
        if *method == Method::Invite && self.last_invite_2xx.is_some_and(|last| last >= seq) {
            return Ok(()); // A retransmitted 2xx: the caller re-sends the ACK, nothing else.
        }
        let (target, session) = if refresh {
            (
                contact_target(&response.head)?,
                timer::from_answer(response)?,
            )
        } else {
            (None, None)
        };
        if initial {
            self.confirm_uac(response)?;
        }
        if self.our_offer.as_ref().is_some_and(|p| p.cseq == seq) {
            self.our_offer = None;
        }
        if *method == Method::Invite {
            self.last_invite_2xx = Some(seq);
        }
        if refresh && self.state != DialogState::Terminated {
            // A successful target refresh replaces the remote target (§12.2.1.2) and
            // restarts the session timer from now (RFC 4028 §7.2, §10).
            if let Some(target) = target {
                self.refresh_target(target);
            }
            self.session = session.map(|timer| Running::start(timer, now));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glare_delays_stay_in_the_rfc_windows() {
        for random in [0, 1, 190, 191, 200, 201, 12_345, u32::MAX] {
            let owner = glare_retry_delay(true, random);
            assert!(owner >= Duration::from_millis(2100) && owner <= Duration::from_secs(4));
            let other = glare_retry_delay(false, random);
            assert!(other <= Duration::from_secs(2));
            assert_eq!(owner.as_millis() % 10, 0);
        }
        assert_eq!(glare_retry_delay(true, 190), Duration::from_secs(4));
        assert_eq!(glare_retry_delay(false, 200), Duration::from_secs(2));
    }
}
