//! How messages find their transaction: the hash-map keys of RFC 3261 §17.1.3 (responses),
//! §17.2.3 (requests, with the RFC 2543 fallback), §8.2.2.2 (merged requests) and the
//! dialog fields that match an ACK for a 2xx, which carries a branch of its own (§13.2.2.4).

use crate::message::{Host, Method, Request, Response};

/// Requests of one server transaction share a method, except that the ACK for a non-2xx
/// final belongs to the INVITE's transaction (§17.2.3); CANCEL is a transaction of its own.
fn method_class(method: &Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

/// A client transaction is found by the branch of the top Via of a response and the CSeq
/// method (§17.1.3): a CANCEL shares the INVITE's branch but not its transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: String,
    method: Method,
}

impl ClientKey {
    /// The key of a request we send; `None` without an RFC 3261 branch, which we never
    /// generate ourselves.
    pub(crate) fn of_request(request: &Request) -> Option<Self> {
        let via = request.head.via.first().filter(|via| via.is_rfc3261())?;
        Some(Self {
            branch: via.branch()?.to_owned(),
            method: request.method.clone(),
        })
    }

    pub(crate) fn of_response(response: &Response) -> Option<Self> {
        let branch = response.head.via.first()?.branch()?;
        Some(Self {
            branch: branch.to_owned(),
            method: response.head.cseq.method.clone(),
        })
    }
}

/// A server transaction's key (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// Branch, sent-by and method: unique per transaction when the branch has the cookie.
    Rfc3261 {
        branch: String,
        host: Host,
        port: Option<u16>,
        method: Method,
    },
    /// An RFC 2543 peer's branch is not unique (or absent): the Request-URI, From tag,
    /// Call-ID, CSeq number and top Via as written stand in. The To tag is checked after the
    /// lookup (see [`ServerKey::of`]) because the ACK carries the tag of our response.
    Rfc2543 {
        uri: String,
        from_tag: Option<String>,
        call_id: String,
        seq: u32,
        via: String,
        method: Method,
    },
}

impl ServerKey {
    /// The key of `request` as received (before [`Via::stamp_source`]); `method` overrides
    /// the request's class, so a CANCEL can look up the INVITE it cancels (§9.2).
    pub(crate) fn of(request: &Request, method: Option<Method>) -> Option<Self> {
        let via = request.head.via.first()?;
        let method = method.unwrap_or_else(|| method_class(&request.method));
        Some(match via.branch().filter(|_| via.is_rfc3261()) {
            Some(branch) => ServerKey::Rfc3261 {
                branch: branch.to_owned(),
                host: via.host.clone(),
                port: via.port,
                method,
            },
            None => ServerKey::Rfc2543 {
                uri: request.uri.to_string(),
                from_tag: request.head.from.tag().map(str::to_owned),
                call_id: request.head.call_id.0.clone(),
                seq: request.head.cseq.seq,
                via: via.to_string(),
                method,
            },
        })
    }

    pub(crate) fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543 { .. })
    }
}

/// §8.2.2.2: a request without a To tag whose From tag, Call-ID and CSeq equal those of a
/// transaction in progress, but which does not match it, took another path through a fork
/// and is answered 482 (Loop Detected).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MergeKey {
    from_tag: Option<String>,
    call_id: String,
    seq: u32,
    method: Method,
}

impl MergeKey {
    /// `None` for requests inside a dialog (with a To tag) and for ACK, which is never
    /// answered.
    pub(crate) fn of(request: &Request) -> Option<Self> {
        let head = &request.head;
        if head.to.tag().is_some() || request.method == Method::Ack {
            return None;
        }
        Some(Self {
            from_tag: head.from.tag().map(str::to_owned),
            call_id: head.call_id.0.clone(),
            seq: head.cseq.seq,
            method: request.method.clone(),
        })
    }
}

/// The ACK for a 2xx is a new transaction with a new branch (§17.1.1.3), so it is matched
/// to the INVITE whose 2xx we retransmit by the dialog (Call-ID, both tags) and the CSeq
/// number (§13.3.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AckKey {
    call_id: String,
    seq: u32,
    from_tag: Option<String>,
    to_tag: Option<String>,
}

impl AckKey {
    /// The key the ACK for this 2xx will carry.
    pub(crate) fn of_response(response: &Response) -> Self {
        let head = &response.head;
        Self {
            call_id: head.call_id.0.clone(),
            seq: head.cseq.seq,
            from_tag: head.from.tag().map(str::to_owned),
            to_tag: head.to.tag().map(str::to_owned),
        }
    }

    pub(crate) fn of_ack(ack: &Request) -> Self {
        let head = &ack.head;
        Self {
            call_id: head.call_id.0.clone(),
            seq: head.cseq.seq,
            from_tag: head.from.tag().map(str::to_owned),
            to_tag: head.to.tag().map(str::to_owned),
        }
    }
}
