//! Dialogs (RFC 3261 §12–§15), sans-IO.
//!
//! A [`Dialog`] is the state two user agents share after an INVITE was answered with a
//! 101–299 response: its id (Call-ID and both tags), the URIs and CSeq numbers of both sides,
//! the route set and the remote target. It builds the requests we send in it (§12.2.1.1) and
//! checks the ones we receive (§12.2.2), answers glare (§14), and runs the RFC 4028 session
//! timer as deadlines the caller drives with `poll_timeout()` / `handle_timeout(now)`.
//!
//! It never sees a socket or a transaction: the caller moves requests and responses through
//! the transaction layer and hands each one here. Randomness (tags, glare delays,
//! Retry-After) comes in as arguments; time comes in as `now`.

mod create;
mod route;
mod set;
mod timer;
mod uac;
mod uas;

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use bytes::Bytes;

use crate::message::{CallId, Method, NameAddr, Request, Response, Uri};

pub use route::NextHop;
pub use set::{DialogSet, Incoming};
pub use timer::{
    ABSOLUTE_MIN_SE, Refresher, SessionExpires, SessionTimer, TimerConfig, parse_min_se,
    screen_session_timer,
};
pub use uac::glare_retry_delay;
pub use uas::Verdict;

/// A From/To tag (RFC 3261 §19.3). Empty for an RFC 2543 peer that sent no From tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub String);

impl Tag {
    /// A tag from caller-provided randomness; §19.3 asks for at least 32 random bits.
    pub fn from_random(random: u64) -> Self {
        Self(format!("{random:x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies a dialog (RFC 3261 §12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: CallId,
    pub local_tag: Tag,
    pub remote_tag: Tag,
}

impl DialogId {
    /// The dialog a received request names (§12.2.2): our tag is in To, theirs in From.
    /// `None` when To has no tag: the request is outside any dialog.
    pub fn of_received(request: &Request) -> Option<Self> {
        Some(Self {
            call_id: request.head.call_id.clone(),
            local_tag: Tag(request.head.to.tag()?.to_owned()),
            remote_tag: tag_or_empty(&request.head.from),
        })
    }

    /// The dialog a request we sent, or a response to it, names: our tag is in From.
    /// `None` when To has no tag.
    pub fn of_sent(head: &crate::message::Head) -> Option<Self> {
        Some(Self {
            call_id: head.call_id.clone(),
            local_tag: tag_or_empty(&head.from),
            remote_tag: Tag(head.to.tag()?.to_owned()),
        })
    }
}

fn tag_or_empty(party: &NameAddr) -> Tag {
    Tag(party.tag().unwrap_or_default().to_owned())
}

/// RFC 3261 §12: early after a 1xx, confirmed after a 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// Our part in the INVITE that formed the dialog. The UAC generated the Call-ID, which
/// decides the glare back-off window (§14.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Uac,
    Uas,
}

/// Why a dialog ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminationCause {
    /// We built a BYE (§15.1.1).
    LocalBye,
    /// The peer sent a BYE (§15.1.2).
    RemoteBye,
    /// The dialog-forming INVITE got (or we sent) this final non-2xx response (§12.3).
    Rejected(u16),
    /// An in-dialog request got 481 or 408 (§12.2.1.2).
    RequestFailed(u16),
}

/// Something the caller should know or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogEvent {
    /// A 2xx to the dialog-forming INVITE was sent or received.
    Confirmed,
    /// The remote target changed (a target refresh succeeded); in-dialog requests now go
    /// to [`Dialog::remote_target`].
    TargetRefreshed,
    /// We are the session refresher and half the interval passed (RFC 4028 §10): send a
    /// re-INVITE or UPDATE now.
    SessionRefreshDue,
    /// The session interval ran out without a refresh (RFC 4028 §10): send BYE.
    SessionExpired,
    /// Our request of this method met glare (491) and its back-off passed (§14.1): resend.
    GlareRetryDue(Method),
    Terminated(TerminationCause),
}

/// A body for a request we build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// `application/sdp`, …
    pub content_type: String,
    pub data: Bytes,
}

/// What the UAS side of a dialog needs from us: our tag and our Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalParty {
    pub tag: Tag,
    pub contact: NameAddr,
}

/// A request built in a dialog, with where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub request: Request,
    pub next_hop: NextHop,
}

/// A request whose offer (or INVITE) is still waiting for its final response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    cseq: u32,
    method: Method,
}

/// One dialog. See the module documentation.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    state: DialogState,
    cause: Option<TerminationCause>,
    /// Our From in requests we send: local URI and local tag.
    local: NameAddr,
    /// Their To in requests we send: remote URI and remote tag.
    remote: NameAddr,
    /// Our Contact, put in target-refresh requests and their 2xx.
    local_contact: NameAddr,
    /// The last CSeq number we used; `None` for a UAS that has sent nothing (§12.1.1).
    local_cseq: Option<u32>,
    /// The last CSeq number received; `None` for a UAC that has received nothing (§12.1.2).
    remote_cseq: Option<u32>,
    route_set: Vec<NameAddr>,
    remote_target: Uri,
    secure: bool,
    /// CSeq of the dialog-forming INVITE.
    initial_cseq: u32,
    /// Highest INVITE CSeq whose 2xx we processed: retransmitted 2xx change nothing.
    last_invite_2xx: Option<u32>,
    /// Our INVITE or UPDATE-with-offer awaiting its final response.
    our_offer: Option<Pending>,
    /// The peer's INVITE or UPDATE-with-offer we have not answered finally.
    peer_offer: Option<Pending>,
    config: TimerConfig,
    session: Option<timer::Running>,
    glare_retry: Option<(Instant, Method)>,
    events: VecDeque<DialogEvent>,
}

impl Dialog {
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Why the dialog ended, once it has.
    pub fn termination_cause(&self) -> Option<TerminationCause> {
        self.cause
    }

    /// Whether we generated the Call-ID (we were the UAC of the dialog-forming INVITE).
    pub fn owns_call_id(&self) -> bool {
        self.role == Role::Uac
    }

    pub fn local_uri(&self) -> &Uri {
        &self.local.uri
    }

    pub fn remote_uri(&self) -> &Uri {
        &self.remote.uri
    }

    /// The last CSeq number we sent in this dialog.
    pub fn local_cseq(&self) -> Option<u32> {
        self.local_cseq
    }

    /// The last CSeq number the peer sent in this dialog.
    pub fn remote_cseq(&self) -> Option<u32> {
        self.remote_cseq
    }

    /// The route set, in the order Route headers list it (§12.1.1, §12.1.2).
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// §12.1.1: the INVITE came over TLS to a SIPS Request-URI.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The running RFC 4028 session timer, if one was negotiated.
    pub fn session_timer(&self) -> Option<SessionTimer> {
        self.session.as_ref().map(|running| running.timer)
    }

    pub fn poll_event(&mut self) -> Option<DialogEvent> {
        self.events.pop_front()
    }

    /// The next instant [`Dialog::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = self.session.as_ref().and_then(timer::Running::deadline);
        let glare = self.glare_retry.as_ref().map(|(at, _)| *at);
        session.into_iter().chain(glare).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == DialogState::Terminated {
            return;
        }
        if let Some((at, method)) = self.glare_retry.take() {
            if at <= now {
                self.events.push_back(DialogEvent::GlareRetryDue(method));
            } else {
                self.glare_retry = Some((at, method));
            }
        }
        if let Some(running) = &mut self.session {
            let (event, keep) = running.handle(now);
            self.events.extend(event);
            if !keep {
                self.session = None;
            }
        }
    }

    fn terminate(&mut self, cause: TerminationCause) {
        if self.state != DialogState::Terminated {
            self.state = DialogState::Terminated;
            self.cause = Some(cause);
            self.session = None;
            self.glare_retry = None;
            self.events.push_back(DialogEvent::Terminated(cause));
        }
    }

    /// Replaces the remote target, reporting a change.
    fn refresh_target(&mut self, target: Uri) {
        if target != self.remote_target {
            self.remote_target = target;
            self.events.push_back(DialogEvent::TargetRefreshed);
        }
    }

    fn matches_sent(&self, head: &crate::message::Head) -> bool {
        DialogId::of_sent(head).is_some_and(|id| id == self.id)
    }
}

/// The target a message's Contact names: `None` without a Contact; an error for several
/// values or a non-SIP URI, which cannot be a remote target (§12.1.1, §8.1.1.8).
fn contact_target(head: &crate::message::Head) -> Result<Option<Uri>, crate::Error> {
    use crate::Error::DialogContact;
    match head.contact.as_slice() {
        [] => Ok(None),
        [contact] if contact.uri.as_sip().is_some() => Ok(Some(contact.uri.clone())),
        [_] => Err(DialogContact("not a SIP or SIPS URI")),
        _ => Err(DialogContact("more than one value")),
    }
}

/// Whether a response is a 2xx.
fn is_success(response: &Response) -> bool {
    (200..300).contains(&response.code)
}
