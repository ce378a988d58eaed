//! The carriers of the outbound tests (`tests/sipp/uas_*.xml`, run by
//! `sipbridge_tests::sipp_uas`) checked without the bridge: each is played against a small
//! SIPp UAC of `tests/sipp/selftest/` standing in for it, on 127.0.0.1, and must exchange
//! exactly the messages its comment promises, with RTP (or none) where it says; the carrier's
//! side of a transfer is checked the same way in [`transfer`]. Needs only SIPp: skipped with a
//! printed reason without it, failed with `CI=true`.
#![allow(clippy::unwrap_used)]

// A directory of its own, so that Cargo does not take it for a test of its own.
#[path = "sipp_uas_selftest/transfer.rs"]
mod transfer;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sipbridge_tests::sipp::{
    self, PHONE_HANGS_UP, ROOM_HANGS_UP, SippRun, header, run_uac_to, scenario,
};
use sipbridge_tests::sipp_uas::{
    BRIDGE_HANGS_UP, NO_HEADERS, NO_QOP, PROXY_AUTHENTICATE, QOP_AUTH, RING_180, SDP_PCMA_PCMU,
    SippUas, WWW_AUTHENTICATE, answer, carrier_hangs_up_after, pause, provisional, reject,
};

const LIMIT: Duration = Duration::from_secs(30);

fn dir() -> PathBuf {
    std::env::temp_dir().join("sipbridge-sipp-selftest")
}

/// Runs the carrier `uas` against the stand-in bridge `uac` (with `uac_args`); returns both
/// runs, carrier first.
fn call(label: &str, uas: &str, uac: &str, uac_args: &[&str]) -> (SippRun, SippRun) {
    let tcp = uac_args.windows(2).any(|pair| pair == ["-t", "t1"]);
    let uas_args: &[&str] = if tcp { &["-t", "t1"] } else { &[] };
    let carrier = SippUas::start_in(&dir(), label, uas, 1, uas_args);
    let bridge = run_uac_to(
        &dir(),
        &carrier.addr(),
        &format!("{label}-uac"),
        uac,
        "+15550123",
        uac_args,
        LIMIT,
    );
    (carrier.finish(LIMIT), bridge)
}

fn assert_passed(what: &str, run: &SippRun) {
    assert!(run.passed, "{what} failed:\n{}", run.trace);
}

fn offer() -> &'static str {
    "      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000"
}

#[test]
fn uas_reject_sends_the_final_response_as_written_and_takes_the_ack() {
    if !sipp::available("uas_reject_sends_the_final_response_as_written_and_takes_the_ack") {
        return;
    }
    let ringing = format!("{RING_180}{}", pause(300));
    let uas = scenario(
        "uas_reject",
        &[
            ("RINGING", &ringing),
            ("FINAL_CODE", "486"),
            ("FINAL_PHRASE", "Busy Here (carrier's own words)"),
            ("EXTRA_HEADERS", "Retry-After: 30\n      X-Carrier: busy"),
        ],
    );
    let uac = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "486"), ("OFFER_BODY", offer())],
    );
    let (carrier, bridge) = call("reject", &uas, &uac, &[]);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &bridge);
    assert_eq!(
        carrier.call_id, bridge.call_id,
        "the Call-ID the carrier saw"
    );
    assert_eq!(bridge.received("SIP/2.0 180 Ringing").len(), 1);
    let final_response = bridge.received("SIP/2.0 486 ");
    let busy = final_response.first().expect("a 486");
    assert!(busy.starts_with("SIP/2.0 486 Busy Here (carrier's own words)\r"));
    assert_eq!(header(busy, "Retry-After"), Some("30"));
    assert_eq!(header(busy, "X-Carrier"), Some("busy"));
    assert_eq!(carrier.received("ACK").len(), 1);

    // No ringing and no extra header: straight to the final response, whose headers end
    // where they should (an empty line would have cut them short).
    assert_eq!(
        reject(603, "Decline"),
        scenario(
            "uas_reject",
            &[
                ("RINGING", RING_180),
                ("FINAL_CODE", "603"),
                ("FINAL_PHRASE", "Decline"),
                ("EXTRA_HEADERS", NO_HEADERS),
            ],
        )
    );
    let uas = scenario(
        "uas_reject",
        &[
            ("RINGING", ""),
            ("FINAL_CODE", "488"),
            ("FINAL_PHRASE", "Not Acceptable Here"),
            ("EXTRA_HEADERS", NO_HEADERS),
        ],
    );
    let uac = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "488"), ("OFFER_BODY", offer())],
    );
    let (carrier, bridge) = call("reject488", &uas, &uac, &[]);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &bridge);
    assert!(bridge.received("SIP/2.0 180").is_empty());
    let refused = bridge.received("SIP/2.0 488 Not Acceptable Here");
    assert_eq!(header(refused[0], "Content-Length"), Some("0"));
    assert!(header(refused[0], "Contact").is_some());

    // Over TCP (a trunk with transport TCP): SippUas waits for SIPp's listening socket.
    let (carrier, bridge) = call("reject-tcp", &uas, &uac, &["-t", "t1"]);
    assert_passed("the carrier over TCP", &carrier);
    assert_passed("the stand-in bridge over TCP", &bridge);
    assert!(
        carrier.trace.contains("TCP message received"),
        "{}",
        carrier.trace
    );
}

#[test]
fn uas_ring_forever_rings_until_cancel_then_answers_200_and_487() {
    if !sipp::available("uas_ring_forever_rings_until_cancel_then_answers_200_and_487") {
        return;
    }
    let uac = scenario("uac_cancel", &[]);
    for (label, ringing) in [
        ("ring", RING_180.to_owned()),
        ("ring-sdp", provisional("180 Ringing", SDP_PCMA_PCMU)),
    ] {
        let uas = scenario("uas_ring_forever", &[("RINGING", &ringing)]);
        let (carrier, bridge) = call(label, &uas, &uac, &[]);
        assert_passed("the carrier", &carrier);
        assert_passed("the stand-in bridge", &bridge);
        let ring = bridge.received("SIP/2.0 180 Ringing");
        assert_eq!(
            header(ring[0], "Content-Type").is_some(),
            label == "ring-sdp",
            "{}",
            ring[0]
        );
        let terminated = bridge.received("SIP/2.0 487 Request Terminated");
        assert_eq!(header(terminated[0], "CSeq"), Some("1 INVITE"));
        assert_eq!(
            header(bridge.received("SIP/2.0 200 OK")[0], "CSeq"),
            Some("1 CANCEL")
        );
    }
}

#[test]
fn uas_ring_no_487_answers_the_cancel_and_never_ends_the_invite() {
    if !sipp::available("uas_ring_no_487_answers_the_cancel_and_never_ends_the_invite") {
        return;
    }
    let uas = scenario(
        "uas_ring_no_487",
        &[("RINGING", RING_180), ("SILENCE_MS", "3000")],
    );
    // uac_cancel up to the 200 to its CANCEL, then 2 s of waiting for a 487 that never comes
    // (a recv that times out would count as a failed call, so a pause).
    let full = scenario("uac_cancel", &[]);
    let cut = full.find("  <recv response=\"487\"/>").unwrap();
    let uac = format!(
        "{}  <pause milliseconds=\"2000\"/>\n</scenario>\n",
        &full[..cut]
    );
    let (carrier, bridge) = call("ring-no-487", &uas, &uac, &[]);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &bridge);
    assert_eq!(
        header(bridge.received("SIP/2.0 200 OK")[0], "CSeq"),
        Some("1 CANCEL")
    );
    assert!(bridge.received("SIP/2.0 487").is_empty());
}

#[test]
fn uas_silent_never_answers_and_absorbs_retransmissions() {
    if !sipp::available("uas_silent_never_answers_and_absorbs_retransmissions") {
        return;
    }
    let uas = scenario("uas_silent", &[("SILENCE_MS", "4500")]);
    let uac = scenario("selftest/uac_silent", &[]);
    let (carrier, bridge) = call("silent", &uas, &uac, &[]);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &bridge);
    assert_eq!(carrier.received("INVITE").len(), 3, "{}", carrier.trace);
    assert!(
        !carrier.trace.contains("message sent"),
        "the carrier said something:\n{}",
        carrier.trace
    );
}

const REJECTED_AGAIN: &str = r#"  <recv response="CHALLENGE_CODE"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#;

const ANSWERED_THEN_BYE: &str = r#"  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>"#;

#[test]
fn uas_auth_reject_challenges_twice_and_wants_credentials_the_second_time() {
    if !sipp::available("uas_auth_reject_challenges_twice_and_wants_credentials_the_second_time") {
        return;
    }
    for (challenge, code) in [(WWW_AUTHENTICATE, "401"), (PROXY_AUTHENTICATE, "407")] {
        let uas = scenario("uas_auth_reject", &challenge.replacements());
        let uac = scenario(
            "selftest/uac_challenged",
            &[("AFTER_AUTH", REJECTED_AGAIN), ("CHALLENGE_CODE", code)],
        );
        let label = format!("auth-reject-{code}");
        let (carrier, bridge) = call(&label, &uas, &uac, &["-au", "user", "-ap", "pw"]);
        assert_passed("the carrier", &carrier);
        assert_passed("the stand-in bridge", &bridge);
        let challenges = bridge.received(&format!("SIP/2.0 {code}"));
        assert_eq!(challenges.len(), 2);
        let offered = header(challenges[0], challenge.header).unwrap();
        assert!(
            offered.contains(r#"realm="sipbridge.test""#) && offered.contains(r#"qop="auth""#),
            "{offered}"
        );
        assert_ne!(
            header(challenges[0], challenge.header),
            header(challenges[1], challenge.header),
            "a new nonce the second time"
        );
        let invites = carrier.received("INVITE");
        assert!(header(invites[1], challenge.credentials).is_some());
    }

    // The second INVITE without credentials fails the carrier's check.
    let uas = scenario("uas_auth_reject", &WWW_AUTHENTICATE.replacements());
    let uac = scenario(
        "selftest/uac_challenged",
        &[("AFTER_AUTH", REJECTED_AGAIN), ("CHALLENGE_CODE", "401")],
    )
    .replace("[authentication]", "");
    let (carrier, _) = call("auth-reject-none", &uas, &uac, &[]);
    assert!(!carrier.passed, "{}", carrier.trace);
    assert!(carrier.trace.contains("Failed regexp match"));
}

#[test]
fn uas_auth_ok_answers_only_the_right_digest() {
    if !sipp::available("uas_auth_ok_answers_only_the_right_digest") {
        return;
    }
    let accepted = |qop: &str, password: &str| {
        let uas = scenario(
            "uas_auth_ok",
            &[
                ("QOP_PARAM", qop),
                ("AUTH_USER", "carrier-user"),
                ("AUTH_PASSWORD", "s3cret"),
                ("ANSWER_SDP", SDP_PCMA_PCMU),
            ],
        );
        let uac = scenario(
            "selftest/uac_challenged",
            &[("AFTER_AUTH", ANSWERED_THEN_BYE), ("CHALLENGE_CODE", "401")],
        );
        let label = format!("auth-ok-{}-{password}", qop.len());
        call(
            &label,
            &uas,
            &uac,
            &["-au", "carrier-user", "-ap", password],
        )
    };
    for qop in [QOP_AUTH, NO_QOP] {
        let (carrier, bridge) = accepted(qop, "s3cret");
        assert_passed("the carrier", &carrier);
        assert_passed("the stand-in bridge", &bridge);
        let answer = bridge.received("SIP/2.0 200 OK");
        assert!(answer[0].contains("m=audio "), "{}", answer[0]);
        let credentials = header(carrier.received("INVITE")[1], "Authorization").unwrap();
        assert_eq!(
            credentials.contains("qop=auth"),
            !qop.is_empty(),
            "{credentials}"
        );
    }
    let (carrier, bridge) = accepted(QOP_AUTH, "wrong");
    assert!(
        !carrier.passed,
        "a wrong password passed:\n{}",
        carrier.trace
    );
    // Retransmitted: the stand-in, expecting a 200, never acknowledges it.
    assert!(!bridge.received("SIP/2.0 403 Forbidden").is_empty());
}

/// Counts the RTP arriving on a socket of its own until stopped.
struct RtpCounter {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<RtpSeen>,
}

#[derive(Debug, Default)]
struct RtpSeen {
    packets: usize,
    payload_types: BTreeSet<u8>,
    sources: BTreeSet<SocketAddr>,
}

impl RtpCounter {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = RtpSeen::default();
            let mut buffer = [0u8; 2048];
            while !stopped.load(Ordering::SeqCst) {
                if let Ok((length, from)) = socket.recv_from(&mut buffer)
                    && length >= 12
                    && buffer[0] >> 6 == 2
                {
                    seen.packets += 1;
                    seen.payload_types.insert(buffer[1] & 0x7f);
                    seen.sources.insert(from);
                }
            }
            seen
        });
        Self { port, stop, thread }
    }

    fn finish(self) -> RtpSeen {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// The answering carriers against `selftest/uac_answered.xml`, with the RTP they sent.
fn answered(label: &str, uas: &str, hangup: &str, uac_args: &[&str]) -> (SippRun, RtpSeen, u16) {
    let rtp = RtpCounter::start();
    let port = rtp.port.to_string();
    let uac = scenario(
        "selftest/uac_answered",
        &[("HANGUP", hangup), ("RTP_PORT", &port)],
    );
    let carrier = SippUas::start_in(&dir(), label, uas, 1, &[]);
    let media_port = carrier.media_port();
    let bridge = run_uac_to(
        &dir(),
        &carrier.addr(),
        &format!("{label}-uac"),
        &uac,
        "+15550123",
        uac_args,
        LIMIT,
    );
    let carrier = carrier.finish(LIMIT);
    assert_passed("the stand-in bridge", &bridge);
    assert_passed("the carrier", &carrier);
    (carrier, rtp.finish(), media_port)
}

fn assert_pcap_audio(seen: &RtpSeen, media_port: u16, at_least: usize) {
    println!("RTP from the carrier: {seen:?}");
    assert!(seen.packets >= at_least, "{seen:?}");
    assert_eq!(seen.payload_types, BTreeSet::from([8]), "A-law");
    let source: SocketAddr = format!("127.0.0.1:{media_port}").parse().unwrap();
    assert_eq!(seen.sources, BTreeSet::from([source]));
}

#[test]
fn uas_answer_plays_the_pcap_and_either_side_hangs_up() {
    if !sipp::available("uas_answer_plays_the_pcap_and_either_side_hangs_up") {
        return;
    }
    let with_header = |hangup: &str| {
        scenario(
            "uas_answer",
            &[
                ("RINGING", RING_180),
                ("ANSWER_SDP", SDP_PCMA_PCMU),
                ("EXTRA_HEADERS", "X-Carrier-Case: answer"),
                ("HANGUP", hangup),
            ],
        )
    };
    // The bridge hangs up after 3 s: about 100 packets of 30 ms.
    let (carrier, seen, media_port) = answered(
        "answer-bridge-bye",
        &with_header(BRIDGE_HANGS_UP),
        PHONE_HANGS_UP,
        &["-d", "3000"],
    );
    assert_pcap_audio(&seen, media_port, 60);
    assert_eq!(carrier.received("BYE").len(), 1);
    let ok = carrier.trace.find("SIP/2.0 200 OK").unwrap();
    assert!(carrier.trace[ok..].contains("X-Carrier-Case: answer"));

    let (carrier, seen, media_port) = answered(
        "answer-carrier-bye",
        &answer(&carrier_hangs_up_after(3000)),
        ROOM_HANGS_UP,
        &[],
    );
    assert_pcap_audio(&seen, media_port, 60);
    let ok = carrier.received("SIP/2.0 200 OK");
    assert_eq!(
        header(ok[0], "CSeq").unwrap().split(' ').nth(1),
        Some("BYE")
    );
}

#[test]
fn uas_answer_silent_answers_and_sends_no_rtp() {
    if !sipp::available("uas_answer_silent_answers_and_sends_no_rtp") {
        return;
    }
    let uas = scenario("uas_answer_silent", &[("ANSWER_SDP", SDP_PCMA_PCMU)]);
    let (carrier, seen, _) = answered("answer-silent", &uas, PHONE_HANGS_UP, &["-d", "2000"]);
    assert_eq!(seen.packets, 0, "{seen:?}");
    assert_eq!(carrier.received("BYE").len(), 1);
}

#[test]
fn uas_early_media_plays_before_the_200() {
    if !sipp::available("uas_early_media_plays_before_the_200") {
        return;
    }
    let uas = scenario(
        "uas_early_media",
        &[
            ("ANSWER_SDP", SDP_PCMA_PCMU),
            ("EARLY_MEDIA_MS", "3000"),
            ("HANGUP", BRIDGE_HANGS_UP),
        ],
    );
    // The stand-in hangs up as soon as the call is answered, so the 3 s of audio it gets
    // (about 100 packets) can only have come during early media.
    let (carrier, seen, media_port) = answered("early-media", &uas, PHONE_HANGS_UP, &["-d", "0"]);
    assert_pcap_audio(&seen, media_port, 80);
    assert_eq!(carrier.received("ACK").len(), 1);
}
