//! The headers of a transfer: the `Refer-To` we send (RFC 3515 §2.1) and the `Event` and
//! `Subscription-State` of the NOTIFYs that come back (RFC 3515 §2.4.4, RFC 6665 §8.2).
//!
//! What the API caller writes as the target is checked here, so a bad one is refused before
//! any REFER leaves; what the peer sends is read leniently and never panics.

use std::fmt::Write as _;

use crate::message::{Head, Params, Uri, is_token};
use crate::outcome::{SipStatus, SubscriptionState};
use crate::sipfrag;

/// Why a transfer target cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("transfer_to is empty")]
    Empty,
    #[error("transfer_to {0:?} is not a sip:, sips: or tel: URI, nor a phone number")]
    NotATarget(String),
    #[error("transfer_to {target:?} is not a valid URI: {why}")]
    Malformed { target: String, why: String },
    #[error("URI headers ({0}) can only be added to a sip: or sips: transfer_to")]
    HeadersNeedSip(String),
    #[error("the URI header name {0:?} is not a SIP header name")]
    HeaderName(String),
}

/// The `Refer-To` value for `target`: a `sip:`/`sips:`/`tel:` URI as given, or a bare phone
/// number (`+1 (555) 010-9999`) as a `tel:` URI without its visual separators. `uri_headers`
/// go into the URI's header part (RFC 3261 §19.1.1), escaped, for the transferee to put on
/// the INVITE it sends to the target (§19.1.5).
pub fn refer_to(target: &str, uri_headers: &[(&str, &str)]) -> Result<String, TargetError> {
    let target = target.trim();
    // Written as a name-addr's URI part by habit: the brackets are ours to add.
    let target = target
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(target);
    if target.is_empty() {
        return Err(TargetError::Empty);
    }
    let mut uri = match target.split_once(':') {
        Some((scheme, _)) if is_target_scheme(scheme) => target.to_owned(),
        _ => tel_uri(target).ok_or_else(|| TargetError::NotATarget(target.to_owned()))?,
    };
    let parsed = Uri::parse(&uri, "Refer-To").map_err(|error| TargetError::Malformed {
        target: target.to_owned(),
        why: error.to_string(),
    })?;
    if uri_headers.is_empty() {
        return Ok(format!("<{uri}>"));
    }
    if parsed.as_sip().is_none() {
        let names: Vec<_> = uri_headers.iter().map(|(name, _)| *name).collect();
        return Err(TargetError::HeadersNeedSip(names.join(", ")));
    }
    let mut separator = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in uri_headers {
        if !is_token(name) {
            return Err(TargetError::HeaderName((*name).to_owned()));
        }
        uri.push(separator);
        escape_into(&mut uri, name);
        uri.push('=');
        escape_into(&mut uri, value);
        separator = '&';
    }
    Ok(format!("<{uri}>"))
}

fn is_target_scheme(scheme: &str) -> bool {
    ["sip", "sips", "tel"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
}

/// `tel:` plus the number, if `text` is one: digits (and `*`, `#`), an optional leading `+`,
/// and the visual separators people type, which are dropped.
fn tel_uri(text: &str) -> Option<String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let mut number = String::from("tel:");
    if digits.len() != text.len() {
        number.push('+');
    }
    for c in digits.chars() {
        match c {
            '0'..='9' | '*' | '#' => number.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    number.bytes().any(|b| b.is_ascii_digit()).then_some(number)
}

/// Appends `text` as an `hname`/`hvalue` (RFC 3261 §25.1): `unreserved` and
/// `hnv-unreserved` as they are, every other byte `%XX`.
fn escape_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/?:+$".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The `Event` header of a NOTIFY: `refer;id=7` (RFC 6665 §8.2.1, RFC 3515 §2.4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event package, e.g. `refer`.
    pub package: &'a str,
    /// The `id` parameter: for `refer`, the CSeq number of the REFER that created the
    /// subscription. `None` when absent or not a number.
    pub id: Option<u32>,
}

/// Reads an `Event` header value; `None` when there is no package name.
pub fn parse_event(value: &str) -> Option<Event<'_>> {
    let (package, params) = split_params(value, "Event")?;
    let id = params.value("id").and_then(|id| id.parse().ok());
    Some(Event { package, id })
}

/// The `Subscription-State` of a NOTIFY (RFC 6665 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub state: SubscriptionState,
    /// The `expires` parameter in seconds: how long an active subscription lasts unless
    /// refreshed, which for a REFER's implicit subscription nobody does.
    pub expires: Option<u32>,
}

/// Reads a `Subscription-State` value. A state this code does not know is taken as
/// `active` (RFC 6665 §4.1.3: more NOTIFYs may follow); `None` only when there is none.
pub fn parse_subscription_state(value: &str) -> Option<Subscription> {
    let (state, params) = split_params(value, "Subscription-State")?;
    let state = if state.eq_ignore_ascii_case("terminated") {
        SubscriptionState::Terminated
    } else if state.eq_ignore_ascii_case("pending") {
        SubscriptionState::Pending
    } else {
        SubscriptionState::Active
    };
    let expires = params
        .value("expires")
        .and_then(|seconds| seconds.parse().ok());
    Some(Subscription { state, expires })
}

/// Whether a NOTIFY belongs to the subscription of our REFER whose CSeq number is
/// `subscription` (`None`: we have none): `Ok`, or the status and phrase to refuse it with
/// (RFC 6665 §8.2.1: 400 without an `Event`, 489 for another package; §4.1.3: 481 when no
/// subscription matches). The `id` may be left out while the dialog has had only one REFER
/// (RFC 3515 §2.4.6), which is all a call of ours ever has in flight.
pub fn match_notify(head: &Head, subscription: Option<u32>) -> Result<(), (u16, &'static str)> {
    let event = head.other.get("Event").and_then(parse_event);
    let Some(event) = event else {
        return Err((400, "Missing or malformed Event header"));
    };
    if !event.package.eq_ignore_ascii_case("refer") {
        return Err((489, "Bad Event"));
    }
    match subscription {
        Some(ours) if event.id.is_none_or(|id| id == ours) => Ok(()),
        _ => Err((481, "Subscription does not exist")),
    }
}

/// What a NOTIFY of a REFER subscription says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyReport {
    /// `Terminated`, or `Active` (also for `pending`, an unknown state or none at all: more
    /// NOTIFYs may follow).
    pub state: SubscriptionState,
    /// Seconds an active subscription lasts without another NOTIFY.
    pub expires: Option<u32>,
    /// The status line of a `message/sipfrag` body; `None` without one, or when it cannot
    /// be read (which the transfer treats as no news).
    pub sipfrag: Option<SipStatus>,
}

/// Reads a NOTIFY of a REFER subscription (see [`match_notify`]).
pub fn read_notify(head: &Head, body: &[u8]) -> NotifyReport {
    let subscription = head
        .other
        .get("Subscription-State")
        .and_then(parse_subscription_state);
    let state = match subscription.map(|s| s.state) {
        Some(SubscriptionState::Terminated) => SubscriptionState::Terminated,
        _ => SubscriptionState::Active,
    };
    let is_fragment = head
        .content_type
        .as_deref()
        .is_some_and(sipfrag::is_sipfrag);
    NotifyReport {
        state,
        expires: subscription.and_then(|s| s.expires),
        sipfrag: is_fragment
            .then(|| sipfrag::parse_status(body).ok())
            .flatten(),
    }
}

/// A header value's first item and its `;` parameters; `None` without a first item. Bad
/// parameters are read as none: what they would have said is simply not known.
fn split_params<'a>(value: &'a str, header: &'static str) -> Option<(&'a str, Params)> {
    let end = value.find(';').unwrap_or(value.len());
    let first = value[..end].trim();
    if first.is_empty() {
        return None;
    }
    let params = Params::parse(&value[end..], header).unwrap_or_default();
    Some((first, params))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_sent_as_given_in_brackets() {
        assert_eq!(
            refer_to("sip:+15550999@pbx.example.com", &[]).unwrap(),
            "<sip:+15550999@pbx.example.com>"
        );
        assert_eq!(
            refer_to(" <sips:alice@example.com;transport=tls> ", &[]).unwrap(),
            "<sips:alice@example.com;transport=tls>"
        );
        assert_eq!(
            refer_to("tel:+1-555-010-9999", &[]).unwrap(),
            "<tel:+1-555-010-9999>"
        );
    }

    #[test]
    fn a_bare_number_becomes_a_tel_uri() {
        assert_eq!(refer_to("+15550999", &[]).unwrap(), "<tel:+15550999>");
        assert_eq!(
            refer_to("+1 (555) 010-9999", &[]).unwrap(),
            "<tel:+15550109999>"
        );
        assert_eq!(refer_to("*72#", &[]).unwrap(), "<tel:*72#>");
    }

    #[test]
    fn other_targets_are_refused_with_the_reason() {
        assert_eq!(refer_to("  ", &[]), Err(TargetError::Empty));
        for bad in ["http://example.com", "alice", "+", "555 01x"] {
            assert!(
                matches!(refer_to(bad, &[]), Err(TargetError::NotATarget(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            refer_to("sip:", &[]),
            Err(TargetError::Malformed { .. })
        ));
        assert!(matches!(
            refer_to("tel:+1555<0>", &[]),
            Err(TargetError::Malformed { .. })
        ));
    }

    #[test]
    fn uri_headers_are_escaped_into_a_sip_uri() {
        let value = refer_to(
            "sip:queue@pbx.example.com",
            &[("X-Account", "12 34;x=y"), ("X-Reason", "billing&more")],
        )
        .unwrap();
        assert_eq!(
            value,
            "<sip:queue@pbx.example.com?X-Account=12%2034%3Bx%3Dy&X-Reason=billing%26more>"
        );
        let more = refer_to("sip:q@pbx.example.com?Subject=hi", &[("X-A", "1")]).unwrap();
        assert_eq!(more, "<sip:q@pbx.example.com?Subject=hi&X-A=1>");
        assert_eq!(
            refer_to("+15550999", &[("X-A", "1")]),
            Err(TargetError::HeadersNeedSip("X-A".into()))
        );
        assert_eq!(
            refer_to("sip:q@pbx.example.com", &[("X A", "1")]),
            Err(TargetError::HeaderName("X A".into()))
        );
    }

    #[test]
    fn event_headers_give_package_and_id() {
        let event = parse_event("refer;id=93809824").unwrap();
        assert_eq!((event.package, event.id), ("refer", Some(93_809_824)));
        let spaced = parse_event(" refer ; ID = \"7\" ").unwrap();
        assert_eq!((spaced.package, spaced.id), ("refer", Some(7)));
        assert_eq!(parse_event("refer").unwrap().id, None);
        assert_eq!(parse_event("refer;id=x").unwrap().id, None);
        assert_eq!(parse_event("dialog").unwrap().package, "dialog");
        assert_eq!(parse_event(""), None);
        assert_eq!(parse_event(";id=1"), None);
    }

    #[test]
    fn subscription_states_with_expiry() {
        let active = parse_subscription_state("active;expires=60").unwrap();
        assert_eq!(active.state, SubscriptionState::Active);
        assert_eq!(active.expires, Some(60));
        let ended = parse_subscription_state("Terminated;reason=noresource").unwrap();
        assert_eq!(ended.state, SubscriptionState::Terminated);
        assert_eq!(ended.expires, None);
        let pending = parse_subscription_state("pending ; expires = 0").unwrap();
        assert_eq!(pending.state, SubscriptionState::Pending);
        assert_eq!(pending.expires, Some(0));
        let unknown = parse_subscription_state("waiting;expires=abc").unwrap();
        assert_eq!(unknown.state, SubscriptionState::Active);
        assert_eq!(unknown.expires, None);
        assert_eq!(parse_subscription_state(" "), None);
    }

    /// A NOTIFY's head with these headers (and the content type, if any).
    fn head(headers: &[(&str, &str)], content_type: Option<&str>) -> Head {
        let mut text = String::from(
            "NOTIFY sip:bridge@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK1\r\n\
             From: <sip:carrier@127.0.0.1>;tag=c\r\n\
             To: <sip:bridge@127.0.0.1>;tag=b\r\n\
             Call-ID: x@127.0.0.1\r\nCSeq: 3 NOTIFY\r\nMax-Forwards: 70\r\n",
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(content_type) = content_type {
            text.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match crate::message::parse_message(text.as_bytes(), &crate::message::Limits::default())
            .unwrap()
        {
            crate::message::Message::Request(request) => request.head,
            crate::message::Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn notifies_match_only_our_subscription() {
        let ours = head(&[("Event", "refer;id=2")], None);
        assert_eq!(match_notify(&ours, Some(2)), Ok(()));
        let unnumbered = head(&[("Event", "refer")], None);
        assert_eq!(match_notify(&unnumbered, Some(2)), Ok(()));
        let gone = (481, "Subscription does not exist");
        assert_eq!(match_notify(&ours, None), Err(gone));
        assert_eq!(match_notify(&ours, Some(5)), Err(gone));
        let dialog = head(&[("Event", "dialog")], None);
        assert_eq!(match_notify(&dialog, Some(2)), Err((489, "Bad Event")));
        let none = head(&[], None);
        assert_eq!(
            match_notify(&none, Some(2)),
            Err((400, "Missing or malformed Event header"))
        );
    }

    #[test]
    fn notify_reports_state_expiry_and_sipfrag() {
        let busy = head(
            &[
                ("Event", "refer;id=2"),
                ("Subscription-State", "terminated;reason=noresource"),
            ],
            Some("message/sipfrag;version=2.0"),
        );
        let report = read_notify(&busy, b"SIP/2.0 486 Busy Here\r\nX-Extra: 1\r\n");
        assert_eq!(report.state, SubscriptionState::Terminated);
        assert_eq!(report.sipfrag, Some(SipStatus::new(486, "Busy Here")));

        let ringing = head(
            &[("Subscription-State", "pending;expires=30")],
            Some("message/sipfrag"),
        );
        let report = read_notify(&ringing, b"SIP/2.0 180");
        assert_eq!(
            (report.state, report.expires),
            (SubscriptionState::Active, Some(30))
        );
        assert_eq!(report.sipfrag, Some(SipStatus::new(180, "")));

        // No Subscription-State: more may come. A body that is not a sipfrag, or one that
        // cannot be read, is no news.
        let plain = head(&[], Some("text/plain"));
        let report = read_notify(&plain, b"SIP/2.0 200 OK");
        assert_eq!(report.state, SubscriptionState::Active);
        assert_eq!(report.sipfrag, None);
        let garbage = head(&[], Some("message/sipfrag"));
        assert_eq!(read_notify(&garbage, b"hello").sipfrag, None);
    }
}
