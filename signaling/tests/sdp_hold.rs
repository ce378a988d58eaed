//! Re-INVITEs: the phone holds and resumes (RFC 3264 §8.4), we hold and resume, and the
//! `o=` version moves only when our SDP does (RFC 3264 §8).
#![allow(clippy::unwrap_used)]

mod sdp_common;

use sdp_common::*;
use sipbridge_signaling::sdp::MediaDirection;

/// Our answer to the Asterisk offer, with `direction` and `version`.
fn answer_text(version: u64, direction: &str) -> String {
    ours(
        version,
        &[
            "m=audio 30000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            &format!("a={direction}"),
        ],
    )
}

#[test]
fn phone_holds_and_resumes() {
    let mut local = default_session();
    // (offer edit, our answer's attribute, our o= version, our direction)
    let steps = [
        ("a=sendrecv", "sendrecv", 1, MediaDirection::SendRecv),
        // A session refresh with the same SDP: same answer, same version.
        ("a=sendrecv", "sendrecv", 1, MediaDirection::SendRecv),
        ("a=sendonly", "recvonly", 2, MediaDirection::RecvOnly),
        ("a=sendonly", "recvonly", 2, MediaDirection::RecvOnly),
        ("a=inactive", "inactive", 3, MediaDirection::Inactive),
        ("a=sendrecv", "sendrecv", 4, MediaDirection::SendRecv),
        ("a=recvonly", "sendonly", 5, MediaDirection::SendOnly),
        ("a=sendrecv", "sendrecv", 6, MediaDirection::SendRecv),
    ];
    for (attribute, answered, version, direction) in steps {
        let offer = edited(ASTERISK, "a=sendrecv", attribute);
        let (answer, media) = local.answer(&offer).unwrap();
        assert_eq!(answer, answer_text(version, answered), "offer {attribute}");
        assert_eq!(media.direction, direction, "offer {attribute}");
        assert_eq!(local.session_version(), version);
        assert_eq!(local.session_id(), SESSION_ID);
    }
}

#[test]
fn rfc_2543_hold_with_a_zero_address() {
    let mut local = default_session();
    local.answer(&sdp(ASTERISK)).unwrap();
    let offer = edited(ASTERISK, "c=IN IP4 10.20.0.5", "c=IN IP4 0.0.0.0");
    let (answer, media) = local.answer(&offer).unwrap();
    // "Don't send to me" from the phone: we only receive.
    assert_eq!(answer, answer_text(2, "recvonly"));
    assert_eq!(media.direction, MediaDirection::RecvOnly);
    assert!(!media.direction.sends());
    assert_eq!(media.remote, "0.0.0.0:17218".parse().unwrap());
    // Zero address and recvonly: nothing flows at all.
    let offer = sdp(std::str::from_utf8(ASTERISK)
        .unwrap()
        .replace("c=IN IP4 10.20.0.5", "c=IN IP4 0.0.0.0")
        .replace("a=sendrecv", "a=recvonly")
        .as_bytes());
    let (answer, media) = local.answer(&offer).unwrap();
    assert_eq!(answer, answer_text(3, "inactive"));
    assert_eq!(media.direction, MediaDirection::Inactive);
    // Resumed.
    let (answer, media) = local.answer(&sdp(ASTERISK)).unwrap();
    assert_eq!(answer, answer_text(4, "sendrecv"));
    assert_eq!(media.remote, "10.20.0.5:17218".parse().unwrap());
}

#[test]
fn session_level_direction_applies_unless_the_section_overrides() {
    let mut local = default_session();
    let overridden = edited(TWILIO, "t=0 0", "t=0 0\r\na=sendonly");
    let (_, media) = local.answer(&overridden).unwrap();
    assert_eq!(
        media.direction,
        MediaDirection::SendRecv,
        "section says sendrecv"
    );
    let session_only = std::str::from_utf8(TWILIO)
        .unwrap()
        .replace("t=0 0", "t=0 0\r\na=sendonly")
        .replace("a=sendrecv\r\n", "");
    let (_, media) = local.answer(&sdp(session_only.as_bytes())).unwrap();
    assert_eq!(
        media.direction,
        MediaDirection::RecvOnly,
        "session says sendonly"
    );
}

#[test]
fn we_hold_and_resume_with_re_offers() {
    let mut local = default_session();
    let (_, media) = local.answer(&sdp(TWILIO)).unwrap();
    assert_eq!(media.direction, MediaDirection::SendRecv);
    assert_eq!(local.session_version(), 1);

    local.set_on_hold(true);
    assert!(local.is_on_hold());
    let hold = local.offer();
    assert!(hold.contains("o=- 4242 2 IN IP4"), "{hold}");
    assert!(hold.ends_with("a=ptime:20\r\na=sendonly\r\n"), "{hold}");
    // The phone answers recvonly, as RFC 3264 §8.4 asks.
    let answer = edited(TWILIO, "a=sendrecv", "a=recvonly");
    let media = local.handle_answer(&answer).unwrap();
    assert_eq!(media.direction, MediaDirection::SendOnly);
    // Even an answer of sendrecv leaves us sending only: we offered no more.
    let media = local.handle_answer(&sdp(TWILIO)).unwrap();
    assert_eq!(media.direction, MediaDirection::SendOnly);
    // While we hold, a re-INVITE of the phone's is answered sendonly at most.
    let (answer, media) = local.answer(&sdp(TWILIO)).unwrap();
    assert!(answer.ends_with("a=sendonly\r\n"), "{answer}");
    assert_eq!(media.direction, MediaDirection::SendOnly);
    assert_eq!(local.session_version(), 3);

    local.set_on_hold(false);
    let resume = local.offer();
    assert!(resume.contains("o=- 4242 4 IN IP4"), "{resume}");
    assert!(resume.ends_with("a=ptime:20\r\na=sendrecv\r\n"), "{resume}");
    let media = local.handle_answer(&sdp(TWILIO)).unwrap();
    assert_eq!(media.direction, MediaDirection::SendRecv);
    // The same offer again changes nothing.
    assert_eq!(local.offer(), resume);
}

#[test]
fn a_failed_answer_leaves_the_session_as_it_was() {
    let mut local = default_session();
    let (first, _) = local.answer(&sdp(TWILIO)).unwrap();
    let srtp = edited(TWILIO, "RTP/AVP", "RTP/SAVP");
    assert!(local.answer(&srtp).is_err());
    let (again, _) = local.answer(&sdp(TWILIO)).unwrap();
    assert_eq!(again, first);
    assert_eq!(local.session_version(), 1);
}
