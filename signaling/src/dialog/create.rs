//! Forming a dialog: as UAS from an INVITE and the response we send (RFC 3261 §12.1.1),
//! as UAC from the INVITE we sent and a response carrying a To tag (§12.1.2).

use std::collections::VecDeque;
use std::time::Instant;

use super::route::parse_route_set;
use super::{
    Dialog, DialogEvent, DialogId, DialogState, LocalParty, Pending, Role, Tag, TimerConfig,
    contact_target, is_success, tag_or_empty,
};
use crate::Error;
use crate::message::{Method, Request, Response, Uri};

impl Dialog {
    /// The dialog an INVITE forms with `response`, a 101–299 we are about to send: the
    /// response gets our To tag, our Contact and the INVITE's Record-Route (§12.1.1), and a
    /// 2xx also gets the RFC 4028 headers. Later responses to the same INVITE go through
    /// [`Dialog::respond`].
    ///
    /// Fails when the INVITE cannot form a dialog: it already has a To tag, its Contact is
    /// missing or not a SIP URI, or a Record-Route is malformed. The caller then answers it
    /// with the error's status ([`Error::status`]).
    pub fn new_uas(
        invite: &Request,
        response: &mut Response,
        local: LocalParty,
        config: TimerConfig,
        now: Instant,
    ) -> Result<Self, Error> {
        let not_forming = || Error::NotDialogForming {
            method: invite.method.to_string(),
            code: response.code,
        };
        if invite.method != Method::Invite
            || invite.head.to.tag().is_some()
            || !(101..300).contains(&response.code)
        {
            return Err(not_forming());
        }
        let remote_target = contact_target(&invite.head)?.ok_or(Error::DialogContact("missing"))?;
        // §12.1.1: the route set is the Record-Route list in order, top first.
        let route_set = parse_route_set(&invite.head.other, "Record-Route")?;
        let mut local_party = invite.head.to.clone();
        local_party
            .params
            .set("tag", Some(local.tag.as_str().to_owned()));
        let seq = invite.head.cseq.seq;
        let mut dialog = Self {
            id: DialogId {
                call_id: invite.head.call_id.clone(),
                local_tag: local.tag,
                remote_tag: tag_or_empty(&invite.head.from),
            },
            role: Role::Uas,
            state: DialogState::Early,
            cause: None,
            local: local_party,
            remote: invite.head.from.clone(),
            local_contact: local.contact,
            local_cseq: None,
            remote_cseq: Some(seq),
            route_set,
            remote_target,
            secure: is_secure(invite),
            initial_cseq: seq,
            last_invite_2xx: None,
            our_offer: None,
            // Until we answer it, the INVITE itself is the pending transaction a second
            // INVITE would collide with (§14.2).
            peer_offer: Some(Pending {
                cseq: seq,
                method: Method::Invite,
            }),
            config,
            session: None,
            glare_retry: None,
            events: VecDeque::new(),
        };
        dialog.respond(invite, response, now)?;
        Ok(dialog)
    }

    /// The dialog a response to our INVITE forms: early for a 101–199 with a To tag,
    /// confirmed for a 2xx (§12.1.2). Each To tag is its own dialog (forking, §13.2.2.4);
    /// [`super::DialogSet`] keeps them apart.
    pub fn new_uac(
        invite: &Request,
        response: &Response,
        config: TimerConfig,
        now: Instant,
    ) -> Result<Self, Error> {
        if invite.method != Method::Invite
            || response.head.cseq.method != Method::Invite
            || !(101..300).contains(&response.code)
        {
            return Err(Error::NotDialogForming {
                method: invite.method.to_string(),
                code: response.code,
            });
        }
        if response.head.call_id != invite.head.call_id {
            return Err(Error::DialogMismatch);
        }
        let remote_tag = response
            .head
            .to
            .tag()
            .ok_or(Error::DialogMissingTag("To"))?;
        let local_tag = invite
            .head
            .from
            .tag()
            .ok_or(Error::DialogMissingTag("From"))?;
        let local_contact = invite
            .head
            .contact
            .first()
            .cloned()
            .ok_or(Error::DialogContact("missing in our INVITE"))?;
        // A provisional response without Contact still forms an early dialog; its target
        // is the Request-URI until a Contact arrives. A 2xx must carry one (§13.3.1.4).
        let remote_target = match contact_target(&response.head)? {
            Some(target) => target,
            None if is_success(response) => return Err(Error::DialogContact("missing")),
            None => invite.uri.clone(),
        };
        // §12.1.2: the UAC's route set is the Record-Route list reversed.
        let mut route_set = parse_route_set(&response.head.other, "Record-Route")?;
        route_set.reverse();
        let mut remote = invite.head.to.clone();
        remote.params.set("tag", Some(remote_tag.to_owned()));
        let seq = invite.head.cseq.seq;
        let mut dialog = Self {
            id: DialogId {
                call_id: invite.head.call_id.clone(),
                local_tag: Tag(local_tag.to_owned()),
                remote_tag: Tag(remote_tag.to_owned()),
            },
            role: Role::Uac,
            state: DialogState::Early,
            cause: None,
            local: invite.head.from.clone(),
            remote,
            local_contact,
            local_cseq: Some(seq),
            remote_cseq: None,
            route_set,
            remote_target,
            secure: is_secure(invite),
            initial_cseq: seq,
            last_invite_2xx: None,
            our_offer: None,
            peer_offer: None,
            config,
            session: None,
            glare_retry: None,
            events: VecDeque::new(),
        };
        if is_success(response) {
            dialog.on_response(invite, response, now, 0)?;
        }
        Ok(dialog)
    }

    /// §13.2.2.4: a 2xx to the dialog-forming INVITE confirms an early dialog, and its
    /// route set is recomputed from that 2xx. Fallible parts first, so an error leaves the
    /// dialog as it was.
    pub(crate) fn confirm_uac(&mut self, response: &Response) -> Result<(), Error> {
        let target = contact_target(&response.head)?.ok_or(Error::DialogContact("missing"))?;
        let mut route_set = parse_route_set(&response.head.other, "Record-Route")?;
        route_set.reverse();
        self.route_set = route_set;
        self.remote_target = target;
        self.state = DialogState::Confirmed;
        self.events.push_back(DialogEvent::Confirmed);
        Ok(())
    }
}

/// §12.1.1/§12.1.2: secure when the INVITE travelled over TLS to a SIPS Request-URI. The
/// top Via names the transport of the last hop, ours or the peer's.
fn is_secure(invite: &Request) -> bool {
    let tls = invite
        .head
        .via
        .first()
        .is_some_and(|via| via.transport == "TLS");
    tls && matches!(&invite.uri, Uri::Sip(sip) if sip.secure)
}
