//! All dialogs of a user agent, keyed by dialog id: request matching and 481 (RFC 3261
//! §12.2.2), early dialogs per To tag of a forked INVITE (§12.1.2, §13.2.2.4), and the
//! deadlines of every dialog merged.

use std::collections::BTreeMap;
use std::time::Instant;

use super::timer::screen_session_timer;
use super::{Dialog, DialogEvent, DialogId, DialogState, Tag, TerminationCause, TimerConfig};
use crate::Error;
use crate::message::{CallId, Method, Request, Response};

/// Where a received request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Accepted by this dialog: hand it on, then answer through [`DialogSet::get_mut`] and
    /// [`Dialog::respond`].
    Dialog(DialogId),
    /// No To tag: outside any dialog (a new INVITE, an out-of-dialog OPTIONS, a CANCEL for
    /// the transaction layer to match). A new INVITE has passed the RFC 4028 check.
    OutOfDialog,
    /// Send this response and nothing else.
    Reject(Box<Response>),
    /// An ACK for no dialog we know: dropped silently, an ACK is never answered.
    Drop,
}

/// The dialogs of a user agent. Terminated dialogs stay (and answer 481) until removed.
#[derive(Debug, Clone, Default)]
pub struct DialogSet {
    dialogs: BTreeMap<DialogId, Dialog>,
    config: TimerConfig,
}

impl DialogSet {
    pub fn new(config: TimerConfig) -> Self {
        Self {
            dialogs: BTreeMap::new(),
            config,
        }
    }

    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    pub fn get(&self, id: &DialogId) -> Option<&Dialog> {
        self.dialogs.get(id)
    }

    pub fn get_mut(&mut self, id: &DialogId) -> Option<&mut Dialog> {
        self.dialogs.get_mut(id)
    }

    /// Adds a dialog formed elsewhere ([`Dialog::new_uas`]); replaces one with the same id.
    pub fn insert(&mut self, dialog: Dialog) -> DialogId {
        let id = dialog.id().clone();
        self.dialogs.insert(id.clone(), dialog);
        id
    }

    pub fn remove(&mut self, id: &DialogId) -> Option<Dialog> {
        self.dialogs.remove(id)
    }

    pub fn len(&self) -> usize {
        self.dialogs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dialogs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Dialog> {
        self.dialogs.values()
    }

    /// Matches a received request to its dialog and lets the dialog check it. A request
    /// with a To tag and no dialog gets 481 (§12.2.2). `random` feeds a Retry-After (§14.2)
    /// and the To tag of a 422 to a new INVITE.
    pub fn receive(&mut self, request: &Request, random: u32) -> Incoming {
        let Some(id) = DialogId::of_received(request) else {
            if request.method == Method::Invite
                && let Err(mut response) = screen_session_timer(request, &self.config)
            {
                let tag = Tag::from_random(u64::from(random));
                response.head.to.params.set("tag", Some(tag.0));
                return Incoming::Reject(response);
            }
            return Incoming::OutOfDialog;
        };
        let Some(dialog) = self.dialogs.get_mut(&id) else {
            if request.method == Method::Ack {
                return Incoming::Drop;
            }
            return Incoming::Reject(Box::new(Response::to(request, 481, None)));
        };
        match dialog.receive_request(request, random) {
            Ok(super::Verdict::Accept) => Incoming::Dialog(id),
            Ok(super::Verdict::Reject(response)) => Incoming::Reject(response),
            // Unreachable: the dialog was found by this request's id.
            Err(error) => {
                let (code, reason) = error.status();
                Incoming::Reject(Box::new(Response::to(request, code, Some(&reason))))
            }
        }
    }

    /// A response to a request we sent. For the dialog-forming INVITE: each 101–299 with a
    /// new To tag forms a dialog (early for 1xx, confirmed for 2xx), and a final non-2xx
    /// ends every early dialog of that INVITE (§12.3). Returns the dialog it concerned.
    pub fn on_response(
        &mut self,
        request: &Request,
        response: &Response,
        now: Instant,
        random: u32,
    ) -> Result<Option<DialogId>, Error> {
        if request.head.to.tag().is_some() {
            let id = DialogId::of_sent(&request.head).ok_or(Error::DialogMismatch)?;
            let dialog = self.dialogs.get_mut(&id).ok_or(Error::DialogMismatch)?;
            dialog.on_response(request, response, now, random)?;
            return Ok(Some(id));
        }
        if request.method != Method::Invite || response.code == 100 {
            return Ok(None);
        }
        if response.code >= 300 {
            let local_tag = Tag(request.head.from.tag().unwrap_or_default().to_owned());
            self.end_early(&request.head.call_id, &local_tag, response.code);
            return Ok(None);
        }
        let Some(id) = DialogId::of_sent(&response.head) else {
            // A 1xx without a To tag forms nothing (§12.1); a 2xx must have one.
            return match response.code {
                200.. => Err(Error::DialogMissingTag("To")),
                _ => Ok(None),
            };
        };
        match self.dialogs.get_mut(&id) {
            Some(dialog) => dialog.on_response(request, response, now, random)?,
            None => {
                let dialog = Dialog::new_uac(request, response, self.config, now)?;
                self.dialogs.insert(id.clone(), dialog);
            }
        }
        Ok(Some(id))
    }

    /// Ends the early dialogs of an INVITE: on its final non-2xx, or when the caller stops
    /// waiting for other forks once one answered.
    pub fn end_early(&mut self, call_id: &CallId, local_tag: &Tag, code: u16) {
        for dialog in self.dialogs.values_mut() {
            let id = dialog.id();
            if dialog.state() == DialogState::Early
                && id.call_id == *call_id
                && id.local_tag == *local_tag
            {
                dialog.terminate(TerminationCause::Rejected(code));
            }
        }
    }

    /// The earliest deadline of any dialog.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.dialogs.values().filter_map(Dialog::poll_timeout).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for dialog in self.dialogs.values_mut() {
            dialog.handle_timeout(now);
        }
    }

    /// The next event of any dialog, with the dialog it happened in.
    pub fn poll_event(&mut self) -> Option<(DialogId, DialogEvent)> {
        self.dialogs
            .values_mut()
            .find_map(|dialog| Some((dialog.id().clone(), dialog.poll_event()?)))
    }
}
