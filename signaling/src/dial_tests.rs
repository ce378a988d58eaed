#![allow(clippy::unwrap_used)]

use std::time::SystemTime;

use super::*;
use crate::auth::{Algorithm, Challenger};
use crate::message::SipUri;

fn uri(text: &str) -> Uri {
    Uri::Sip(SipUri::parse(text).unwrap())
}

fn params(credentials: Option<(&str, &str)>) -> InviteParams {
    let mut from = NameAddr::new(uri("sip:+15550199@192.0.2.1"));
    from.params.set("tag", Some("ourtag".into()));
    InviteParams {
        request_uri: uri("sip:+15557654321@198.51.100.7:5060"),
        from,
        to: NameAddr::new(uri("sip:+15557654321@198.51.100.7")),
        call_id: CallId("dial-test@192.0.2.1".into()),
        contact: NameAddr::new(uri("sip:192.0.2.1:5060")),
        via: Via::new(
            "UDP",
            "192.0.2.1:5060".parse().unwrap(),
            "z9hG4bKplaceholder",
        ),
        sdp_offer: Bytes::from_static(b"v=0\r\n"),
        headers: vec![("X-Custom".into(), "yes".into())],
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
    }
}

fn response(request: &Request, code: u16, reason: &str) -> Response {
    let mut response = Response::to(request, code, Some(reason));
    if code > 100 {
        response.head.to.params.set("tag", Some("theirs".into()));
    }
    response
}

#[test]
fn the_first_invite_carries_the_offer_our_contact_and_the_extra_headers() {
    let dialer = Dialer::new(params(None), 7);
    let invite = dialer.invite();
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(invite.head.cseq.seq, 1);
    assert!(invite.head.via[0].branch().unwrap().starts_with("z9hG4bK"));
    assert_ne!(invite.head.via[0].branch(), Some("z9hG4bKplaceholder"));
    assert_eq!(invite.head.contact.len(), 1);
    assert_eq!(invite.head.other.get("X-Custom"), Some("yes"));
    assert_eq!(invite.head.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(&invite.body[..], b"v=0\r\n");
}

#[test]
fn provisional_responses_report_progress_and_early_media() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    assert_eq!(
        dialer.on_response(&response(&invite, 100, "Trying"), 0),
        DialStep::Nothing
    );
    assert_eq!(
        dialer.on_response(&response(&invite, 180, "Ringing"), 0),
        DialStep::Progress {
            code: 180,
            sdp: None
        }
    );
    let mut early = response(&invite, 183, "Session Progress");
    early.head.content_type = Some("application/sdp".into());
    early.body = Bytes::from_static(b"v=0\r\n");
    let DialStep::Progress { code: 183, sdp } = dialer.on_response(&early, 0) else {
        panic!("183 is progress");
    };
    assert_eq!(sdp.as_deref(), Some(&b"v=0\r\n"[..]));
    assert_eq!(
        dialer.on_response(&response(&invite, 200, "OK"), 0),
        DialStep::Answered
    );
    assert!(dialer.is_done());
    // A retransmitted 2xx is the dialog's business now.
    assert_eq!(
        dialer.on_response(&response(&invite, 200, "OK"), 0),
        DialStep::Nothing
    );
}

#[test]
fn a_final_refusal_ends_with_the_status_as_received() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    let step = dialer.on_response(&response(&invite, 603, "Decline"), 0);
    assert_eq!(
        step,
        DialStep::Ended(OutboundEnd::Rejected(SipStatus::new(603, "Decline")))
    );
}

/// The retry's answer is checked by our own server side, which is tested against RFC
/// vectors: both algorithms a carrier may ask for.
#[test]
fn a_challenge_is_answered_once_with_a_valid_digest() {
    for (algorithm, code, challenge_header, answer_header) in [
        (Algorithm::Md5, 401, "WWW-Authenticate", "Authorization"),
        (
            Algorithm::Sha256,
            407,
            "Proxy-Authenticate",
            "Proxy-Authorization",
        ),
    ] {
        let mut challenger = Challenger::new([9; 32], "carrier.example").unwrap();
        let now = SystemTime::now();
        let mut dialer = Dialer::new(params(Some(("bridge", "s3cret"))), 1);
        let first = dialer.invite().clone();
        let mut challenge = response(&first, code, "Unauthorized");
        for value in challenger.challenge_with(now, false, &[algorithm]) {
            challenge.head.other.push(challenge_header, value);
        }
        let DialStep::Send(retry) = dialer.on_response(&challenge, 42) else {
            panic!("{algorithm:?}: the challenge is answered");
        };
        assert_eq!(retry.head.cseq.seq, 2);
        assert_eq!(retry.head.call_id, first.head.call_id);
        assert_eq!(retry.head.from.tag(), Some("ourtag"));
        assert_ne!(retry.head.via[0].branch(), first.head.via[0].branch());
        let answer = retry.head.other.get(answer_header).unwrap();
        challenger
            .verify(
                now,
                "INVITE",
                &retry.uri.to_string(),
                answer,
                "bridge",
                "s3cret",
            )
            .unwrap();
        assert_eq!(dialer.invite(), &*retry);

        // The first attempt's late responses are ignored; the second challenge ends it.
        assert_eq!(
            dialer.on_response(&response(&first, 180, "Ringing"), 0),
            DialStep::Nothing
        );
        let again = dialer.on_response(&response(&retry, code, "Unauthorized"), 43);
        assert_eq!(
            again,
            DialStep::Ended(OutboundEnd::Rejected(SipStatus::new(code, "Unauthorized"))),
            "{algorithm:?}"
        );
    }
}

#[test]
fn a_challenge_without_credentials_ends_the_call() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    let mut challenge = response(&invite, 407, "Proxy Authentication Required");
    challenge
        .head
        .other
        .push("Proxy-Authenticate", "Digest realm=\"x\", nonce=\"n\"");
    assert_eq!(
        dialer.on_response(&challenge, 0),
        DialStep::Ended(OutboundEnd::Rejected(SipStatus::new(
            407,
            "Proxy Authentication Required"
        )))
    );
}

#[test]
fn cancel_waits_for_a_provisional_response_and_matches_the_invite() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    assert_eq!(dialer.cancel(CancelCause::Caller), None, "§9.1: not yet");
    let DialStep::Send(cancel) = dialer.on_response(&response(&invite, 100, "Trying"), 0) else {
        panic!("the deferred CANCEL goes out with the first provisional response");
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(cancel.head.via, vec![invite.head.via[0].clone()]);
    assert_eq!(cancel.head.cseq.seq, invite.head.cseq.seq);
    assert_eq!(cancel.head.cseq.method, Method::Cancel);
    assert_eq!(cancel.head.to.tag(), None);
    assert_eq!(cancel.head.from, invite.head.from);
    assert!(cancel.body.is_empty());
    // Only one CANCEL.
    assert_eq!(
        dialer.on_response(&response(&invite, 180, "Ringing"), 0),
        DialStep::Progress {
            code: 180,
            sdp: None
        }
    );
    assert_eq!(
        dialer.on_response(&response(&invite, 487, "Request Terminated"), 0),
        DialStep::Ended(OutboundEnd::Cancelled)
    );
}

#[test]
fn a_ringing_timeout_reports_the_487_or_the_synthetic_408() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    dialer.on_response(&response(&invite, 180, "Ringing"), 0);
    assert!(dialer.cancel(CancelCause::RingingTimeout).is_some());
    assert_eq!(
        dialer.on_response(&response(&invite, 487, "Request Cancelled"), 0),
        DialStep::Ended(OutboundEnd::RingingTimeout {
            response: Some(SipStatus::new(487, "Request Cancelled"))
        })
    );

    let mut silent = Dialer::new(params(None), 1);
    let invite = silent.invite().clone();
    silent.on_response(&response(&invite, 180, "Ringing"), 0);
    assert!(silent.cancel(CancelCause::RingingTimeout).is_some());
    assert_eq!(
        silent.give_up(),
        Some(OutboundEnd::RingingTimeout { response: None })
    );
}

#[test]
fn a_2xx_crossing_the_cancel_is_acknowledged_and_ended() {
    let mut dialer = Dialer::new(params(None), 1);
    let invite = dialer.invite().clone();
    dialer.on_response(&response(&invite, 180, "Ringing"), 0);
    dialer.cancel(CancelCause::Caller);
    assert_eq!(
        dialer.on_response(&response(&invite, 200, "OK"), 0),
        DialStep::AnsweredTooLate(OutboundEnd::Cancelled)
    );
}

#[test]
fn silence_and_transport_failures() {
    let mut dialer = Dialer::new(params(None), 1);
    assert_eq!(dialer.on_timeout(), OutboundEnd::NoResponse);

    // Nothing came back, so there was no ringing to time out: still "no response".
    let mut ringing_never = Dialer::new(params(None), 1);
    assert_eq!(ringing_never.cancel(CancelCause::RingingTimeout), None);
    assert_eq!(ringing_never.on_timeout(), OutboundEnd::NoResponse);

    let mut withdrawn = Dialer::new(params(None), 1);
    withdrawn.cancel(CancelCause::Caller);
    assert_eq!(withdrawn.on_timeout(), OutboundEnd::Cancelled);

    let mut refused = Dialer::new(params(None), 1);
    assert_eq!(
        refused.on_transport_error("connection refused"),
        OutboundEnd::TransportFailure {
            detail: "connection refused".into()
        }
    );
}

/// Every code 100–699 as the answer to our INVITE: what the call does and, for a final
/// refusal, the reason of docs/OUTCOMES.md with the status passed through as received.
#[test]
fn every_response_code_is_classified() {
    use crate::outcome::DisconnectReason::*;
    let mut tally = std::collections::BTreeMap::new();
    for code in 100..=699u16 {
        let mut dialer = Dialer::new(params(None), 1);
        let invite = dialer.invite().clone();
        let phrase = format!("Phrase {code}");
        let step = dialer.on_response(&response(&invite, code, &phrase), 0);
        let expected_reason = match code {
            486 | 600 | 603 | 607 | 608 => Some(UserRejected),
            408 | 480 => Some(UserUnavailable),
            488 | 606 => Some(MediaFailure),
            300..=699 => Some(SipTrunkFailure),
            _ => None,
        };
        match (code, step) {
            (100, DialStep::Nothing) => {}
            (
                101..=199,
                DialStep::Progress {
                    code: got,
                    sdp: None,
                },
            ) => assert_eq!(got, code),
            (200..=299, DialStep::Answered) => {}
            (300..=699, DialStep::Ended(end)) => {
                let outcome = end.outcome();
                assert_eq!(Some(outcome.reason), expected_reason, "{code}");
                assert_eq!(outcome.status, SipStatus::new(code, phrase), "{code}");
                *tally.entry(outcome.reason.as_str()).or_insert(0) += 1;
            }
            (code, step) => panic!("{code}: unexpected {step:?}"),
        }
    }
    let tally: Vec<_> = tally.into_iter().collect();
    assert_eq!(
        tally,
        [
            ("MEDIA_FAILURE", 2),
            ("SIP_TRUNK_FAILURE", 391),
            ("USER_REJECTED", 5),
            ("USER_UNAVAILABLE", 2)
        ]
    );
}

// The dialler's clock: the ringing timeout and the CANCEL's grace, on a virtual clock.

const RINGING: std::time::Duration = std::time::Duration::from_secs(5);
const GRACE: std::time::Duration = std::time::Duration::from_secs(4);

fn timed(t0: std::time::Instant) -> Dialer {
    Dialer::new(params(None), 1).with_timers(t0, RINGING, GRACE)
}

#[test]
fn the_ringing_timeout_cancels_a_ringing_phone_and_a_missing_487_ends_it_after_the_grace() {
    let t0 = std::time::Instant::now();
    let mut dialer = timed(t0);
    let invite = dialer.invite().clone();
    dialer.on_response(&response(&invite, 180, "Ringing"), 0);
    assert_eq!(dialer.poll_timeout(), Some(t0 + RINGING));
    assert_eq!(
        dialer.handle_timeout(t0 + RINGING / 2),
        DialTimeout::Nothing
    );
    let DialTimeout::Cancel(cancel) = dialer.handle_timeout(t0 + RINGING) else {
        panic!("no CANCEL at the ringing timeout");
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(dialer.poll_timeout(), Some(t0 + RINGING + GRACE));
    assert_eq!(
        dialer.handle_timeout(t0 + RINGING + GRACE),
        DialTimeout::GiveUp(OutboundEnd::RingingTimeout { response: None })
    );
    // The row: USER_UNAVAILABLE 408 "Ringing timeout".
    let outcome = OutboundEnd::RingingTimeout { response: None }.outcome();
    assert_eq!(outcome.status, SipStatus::new(408, "Ringing timeout"));
    assert_eq!(dialer.poll_timeout(), None);
}

#[test]
fn the_487_within_the_grace_is_the_outcome() {
    let t0 = std::time::Instant::now();
    let mut dialer = timed(t0);
    let invite = dialer.invite().clone();
    dialer.on_response(&response(&invite, 183, "Session Progress"), 0);
    assert!(matches!(
        dialer.handle_timeout(t0 + RINGING),
        DialTimeout::Cancel(_)
    ));
    let terminated = response(&invite, 487, "Request Terminated");
    assert_eq!(
        dialer.on_response(&terminated, 0),
        DialStep::Ended(OutboundEnd::RingingTimeout {
            response: Some(SipStatus::new(487, "Request Terminated"))
        })
    );
    assert_eq!(
        dialer.handle_timeout(t0 + RINGING + GRACE),
        DialTimeout::Nothing
    );
}

#[test]
fn no_response_at_all_ends_the_call_at_the_ringing_timeout_and_a_late_180_gets_its_cancel() {
    let t0 = std::time::Instant::now();
    let mut dialer = timed(t0);
    let invite = dialer.invite().clone();
    assert_eq!(
        dialer.handle_timeout(t0 + RINGING),
        DialTimeout::GiveUp(OutboundEnd::NoResponse)
    );
    assert_eq!(dialer.poll_timeout(), None);
    // §9.1: the CANCEL waited for a provisional response.
    let DialStep::Send(cancel) = dialer.on_response(&response(&invite, 180, "Ringing"), 0) else {
        panic!("no CANCEL after the late 180");
    };
    assert_eq!(cancel.method, Method::Cancel);
}

#[test]
fn a_cancel_by_the_api_caller_gets_the_same_grace() {
    let t0 = std::time::Instant::now();
    let mut dialer = timed(t0);
    let invite = dialer.invite().clone();
    dialer.on_response(&response(&invite, 180, "Ringing"), 0);
    assert!(dialer.cancel(CancelCause::Caller).is_some());
    // The grace starts at the next look at the clock, when the CANCEL has gone out.
    let sent = t0 + std::time::Duration::from_secs(1);
    assert_eq!(dialer.handle_timeout(sent), DialTimeout::Nothing);
    assert_eq!(dialer.poll_timeout(), Some(sent + GRACE));
    assert_eq!(
        dialer.handle_timeout(sent + GRACE),
        DialTimeout::GiveUp(OutboundEnd::Cancelled)
    );
}
