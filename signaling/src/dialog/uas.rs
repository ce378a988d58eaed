//! Our side as receiver in a dialog: checking a request (RFC 3261 §12.2.2), glare (§14.2,
//! RFC 3311 §5.2), and what the responses we send change (target refresh, session timer,
//! confirmation of the dialog an INVITE formed).

use std::time::Instant;

use super::timer::{self, Running, screen_session_timer};
use super::{
    Dialog, DialogEvent, DialogId, DialogState, Pending, Role, TerminationCause, contact_target,
    is_success, tag_or_empty,
};
use crate::Error;
use crate::message::{Method, Request, Response};

/// What to do with a request a dialog received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it on; answer it through [`Dialog::respond`].
    Accept,
    /// Send this response and nothing else. Boxed: most requests are accepted.
    Reject(Box<Response>),
}

impl Dialog {
    /// Checks a request the peer sent in this dialog (§12.2.2), in order:
    /// - ACK and CANCEL are accepted as they are (they reuse their INVITE's CSeq);
    /// - a terminated dialog answers 481;
    /// - a CSeq lower than the last one received is out of order: 500;
    /// - an INVITE, or an UPDATE with a body (an offer), while the peer's previous one is
    ///   unanswered: 500 with Retry-After 0–10 s from `random` (§14.2, RFC 3311 §5.2);
    ///   while ours is pending: 491 (glare, §14.2);
    /// - an unusable Contact in a target refresh: 400; an RFC 4028 interval below our
    ///   minimum: 422 with Min-SE;
    /// - a BYE terminates the dialog (§15.1.2): accept it and answer 200.
    ///
    /// Fails only when the request names another dialog.
    pub fn receive_request(&mut self, request: &Request, random: u32) -> Result<Verdict, Error> {
        if DialogId::of_received(request).as_ref() != Some(&self.id) {
            return Err(Error::DialogMismatch);
        }
        let reject = |code, reason: Option<&str>| {
            Ok(Verdict::Reject(Box::new(Response::to(
                request, code, reason,
            ))))
        };
        let method = &request.method;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Ok(Verdict::Accept);
        }
        if self.state == DialogState::Terminated {
            return reject(481, None);
        }
        let seq = request.head.cseq.seq;
        if self.remote_cseq.is_some_and(|last| seq < last) {
            return reject(500, Some("CSeq Out Of Order"));
        }
        self.remote_cseq = Some(seq);

        if matches!(method, Method::Invite | Method::Update) {
            let offer = *method == Method::Invite || !request.body.is_empty();
            if offer && self.peer_offer.is_some() {
                let mut response = Response::to(request, 500, None);
                let retry_after = random % 11;
                response
                    .head
                    .other
                    .set("Retry-After", retry_after.to_string());
                return Ok(Verdict::Reject(Box::new(response)));
            }
            if offer && self.our_offer.is_some() {
                return reject(491, None);
            }
            if let Err(error) = contact_target(&request.head) {
                return reject(400, Some(&error.status().1));
            }
            if let Err(response) = screen_session_timer(request, &self.config) {
                return Ok(Verdict::Reject(response));
            }
            if offer {
                self.peer_offer = Some(Pending {
                    cseq: seq,
                    method: method.clone(),
                });
            }
        }
        if *method == Method::Bye {
            self.terminate(TerminationCause::RemoteBye);
        }
        Ok(Verdict::Accept)
    }

    /// Completes a response we send to `request` in this dialog (or to the INVITE that
    /// formed it) and applies what it changes:
    /// - our To tag where missing (not on 100, §8.2.6.2);
    /// - for the dialog-forming INVITE, a 101–299 gets our Contact and the Record-Route
    ///   copied in order (§12.1.1); a 2xx confirms the dialog, a final non-2xx ends it;
    /// - a 2xx to INVITE/UPDATE gets our Contact, replaces the remote target with the
    ///   request's Contact (target refresh, §12.2.2) and renegotiates the session timer
    ///   from `now` (RFC 4028 §9).
    pub fn respond(
        &mut self,
        request: &Request,
        response: &mut Response,
        now: Instant,
    ) -> Result<(), Error> {
        let initial = self.role == Role::Uas
            && request.head.to.tag().is_none()
            && request.method == Method::Invite
            && request.head.cseq.seq == self.initial_cseq;
        let ours = if initial {
            request.head.call_id == self.id.call_id
                && tag_or_empty(&request.head.from) == self.id.remote_tag
        } else {
            DialogId::of_received(request).as_ref() == Some(&self.id)
        };
        if !ours {
            return Err(Error::DialogMismatch);
        }
        let code = response.code;
        let refresh = matches!(request.method, Method::Invite | Method::Update);
        let success = is_success(response);
        // Fallible parts first: an error leaves the dialog and the response untouched.
        let target = if success && refresh && !initial {
            contact_target(&request.head)?
        } else {
            None
        };
        let mut stamped = response.clone();
        let session = if success && refresh {
            timer::answer(request, &mut stamped, &self.config)?
        } else {
            None
        };
        *response = stamped;

        if code > 100 {
            response.set_to_tag(self.id.local_tag.as_str());
        }
        let forming = initial && (101..300).contains(&code);
        if (forming || (success && refresh)) && response.head.contact.is_empty() {
            response.head.contact.push(self.local_contact.clone());
        }
        if forming && response.head.other.get("Record-Route").is_none() {
            for value in request.head.other.all("Record-Route") {
                response.head.other.push("Record-Route", value);
            }
        }
        if code >= 200
            && self
                .peer_offer
                .as_ref()
                .is_some_and(|p| p.cseq == request.head.cseq.seq)
        {
            self.peer_offer = None;
        }
        if initial && code >= 300 {
            self.terminate(TerminationCause::Rejected(code));
            return Ok(());
        }
        if !(success && refresh) || self.state == DialogState::Terminated {
            return Ok(());
        }
        if initial && self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
            self.events.push_back(DialogEvent::Confirmed);
        }
        if let Some(target) = target {
            self.refresh_target(target);
        }
        self.session = session.map(|timer| Running::start(timer, now));
        Ok(())
    }
}
