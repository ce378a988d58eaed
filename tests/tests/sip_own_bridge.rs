//! Bridges of the tests' own (in this process, on port 0) against the bed's livekit-server,
//! for what the shared bed bridge cannot show: shutting down with a call up, the call
//! limit, no free RTP port, and a LiveKit server that cannot be reached (both directions).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::observe::calls_ended;
use sipbridge_tests::sipp::{PHONE_HANGS_UP, ROOM_HANGS_UP, run_uac, scenario};
use sipbridge_tests::{Bed, OwnBridge, RoomMember};

const WAIT: Duration = Duration::from_secs(30);

/// After the drain period the bridge sends BYE to the phone, the participant leaves, and
/// the call's record says SERVER_SHUTDOWN, 503 "Shutting down" (docs/OUTCOMES.md).
#[test]
fn a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record() {
    let Some(bed) = Bed::get("a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record")
    else {
        return;
    };
    let mut bridge = OwnBridge::start(
        &bed,
        "shutdown",
        "rtp: { port_range: { min: 21000, max: 21099 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550150\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-shutdown } } }]\n\
         shutdown: { drain_timeout: 1s }\n",
    );
    let mut member = RoomMember::join(&bed, "bed-shutdown", "watcher", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = {
        let own = bridge.bed.clone();
        let text = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
        std::thread::spawn(move || run_uac(&own, "shutdown", &text, "+15550150", &[], WAIT))
    };
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == "sip_+15557770001" && e["attributes"]["sip.callStatus"] == "active"
    });
    bridge.signal_stop();
    let run = phone.join().unwrap();
    assert!(run.passed, "the phone did not get its BYE:\n{}", run.trace);
    bridge.wait();

    let record = bridge.bed.cdr_of(&run.call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "SERVER_SHUTDOWN", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Shutting down",
        "{record}"
    );
    let left = member.expect_where("left", Duration::from_secs(10), |e| {
        e["identity"] == "sip_+15557770001"
    });
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "SERVER_SHUTDOWN"
    );
    drop(member);
}

/// With `limits.max_active_calls: 1`, a second call while the first is up gets 503 with
/// Retry-After, and a record of its own.
#[test]
fn a_call_over_max_active_calls_gets_503() {
    let test = "a_call_over_max_active_calls_gets_503";
    let Some(bed) = Bed::get(test) else {
        return;
    };
    let refused = SecondCall {
        label: "limits",
        settings: "rtp: { port_range: { min: 21100, max: 21199 } }\n\
                   limits: { max_active_calls: 1, max_cpu_utilization: 1.0 }\n",
        number: "+15550170",
        phrase: "Service Unavailable - too many calls",
        retry_after: Some("5"),
        health: "429 busy: too many calls",
    };
    refused.run(&bed);
}

/// With one RTP port pair in `rtp.port_range`, a second call while the first holds it gets
/// 503 "Service Unavailable - no free RTP port" and a record of its own.
#[test]
fn a_call_with_no_free_rtp_port_gets_503() {
    let Some(bed) = Bed::get("a_call_with_no_free_rtp_port_gets_503") else {
        return;
    };
    let refused = SecondCall {
        label: "ports",
        settings: "rtp: { port_range: { min: 21400, max: 21401 } }\n\
                   limits: { max_cpu_utilization: 1.0 }\n",
        number: "+15550171",
        phrase: "Service Unavailable - no free RTP port",
        retry_after: None,
        // RTP ports are not a `limits:` setting: the node still says it is ready.
        health: "200 ready",
    };
    refused.run(&bed);
}

/// A bridge of its own whose `settings` leave room for one call: a first call is up, a
/// second one to the same number is refused 503 with `phrase`, its record says
/// JOIN_FAILURE, and the first call goes on undisturbed.
struct SecondCall {
    label: &'static str,
    settings: &'static str,
    number: &'static str,
    phrase: &'static str,
    retry_after: Option<&'static str>,
    /// What `/health` says while the first call is up (status and body).
    health: &'static str,
}

impl SecondCall {
    fn run(&self, bed: &Bed) {
        let room = format!("bed-{}", self.label);
        let yaml = format!(
            "{}inbound_trunks: [{{ id: t, numbers: [\"{}\"], allowed_addresses: [127.0.0.0/8] }}]\n\
             dispatch_rules: [{{ id: r, rule: {{ direct: {{ room: {room} }} }} }}]\n",
            self.settings, self.number
        );
        let bridge = OwnBridge::start(bed, self.label, &yaml);
        let mut member = RoomMember::join(bed, &room, "watcher", &["--commands"]);
        member.expect("joined", WAIT);
        let first = {
            let own = bridge.bed.clone();
            let number = self.number;
            let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
            std::thread::spawn(move || run_uac(&own, "first", &text, number, &["-d", "4000"], WAIT))
        };
        member.expect_where("attributes", WAIT, |e| {
            e["attributes"]["sip.callStatus"] == "active"
        });
        assert_eq!(
            health(&bridge.bed),
            self.health,
            "while the first call is up"
        );
        let offer = "      v=0\n      o=- 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0";
        let text = scenario(
            "uac_refused",
            &[("EXPECTED_CODE", "503"), ("OFFER_BODY", offer)],
        );
        let second = run_uac(&bridge.bed, "second", &text, self.number, &[], WAIT);
        assert!(second.passed, "{}", second.trace);
        if let Some(seconds) = self.retry_after {
            let header = format!("Retry-After: {seconds}");
            assert!(second.trace.contains(&header), "{}", second.trace);
        }
        let record = bridge.bed.cdr_of(&second.call_id, Duration::from_secs(5));
        assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
        assert_eq!(record["callStatusCode"]["status"], self.phrase, "{record}");
        assert_eq!(record["disconnectReason"], "JOIN_FAILURE", "{record}");
        assert_join_failure_counted(&bridge.bed);
        assert!(first.join().unwrap().passed, "the first call was disturbed");
        drop(member);
    }
}

/// LiveKit unreachable: the caller gets 503 and the record says JOIN_FAILURE
/// (docs/OUTCOMES.md: "room join failure → 503").
#[test]
fn a_room_that_cannot_be_joined_gets_503() {
    let Some(bed) = Bed::get("a_room_that_cannot_be_joined_gets_503") else {
        return;
    };
    // Nothing listens on port 9 (discard) of 127.0.0.1 on these machines.
    let bridge = OwnBridge::start_with_livekit(
        &bed,
        "nojoin",
        "ws://127.0.0.1:9",
        "rtp: { port_range: { min: 21200, max: 21299 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550180\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-nowhere } } }]\n",
    );
    let offer = "      v=0\n      o=- 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0";
    let text = scenario(
        "uac_refused",
        &[("EXPECTED_CODE", "503"), ("OFFER_BODY", offer)],
    );
    let run = run_uac(&bridge.bed, "nojoin", &text, "+15550180", &[], WAIT);
    assert!(run.passed, "{}", run.trace);
    let record = bridge.bed.cdr_of(&run.call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "JOIN_FAILURE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    assert_join_failure_counted(&bridge.bed);
}

/// LiveKit unreachable for a call we place: the API caller gets `unavailable` with SIP
/// status 503 "Service Unavailable - room join failed" (what both SDKs raise as
/// `SipCallError`), and the record and the metric say JOIN_FAILURE, outbound.
#[test]
fn an_outbound_call_whose_room_cannot_be_joined_is_503_to_the_api() {
    let Some(bed) = Bed::get("an_outbound_call_whose_room_cannot_be_joined_is_503_to_the_api")
    else {
        return;
    };
    let bridge = OwnBridge::start_with_livekit(
        &bed,
        "nojoin-out",
        "ws://127.0.0.1:9",
        "rtp: { port_range: { min: 21500, max: 21599 } }\n",
    );
    let request = json!({
        "room_name": "bed-nowhere-out",
        "participant_identity": "callee",
        "sip_call_to": "+15550181",
        "sip_number": "+15550199",
        "trunk": { "hostname": "127.0.0.1:5099" },
        "wait_until_answered": true,
    });
    let reply = ApiCaller::of(&bridge.bed).create_sip_participant(Sdk::Python, &request, &[], WAIT);
    let Some(error) = reply.error.clone() else {
        panic!("{reply:?}")
    };
    assert_eq!(error.class, "SipCallError", "{error:?}");
    assert_eq!(error.code, "unavailable", "{error:?}");
    assert_eq!(error.sip_status_code, Some(503), "{error:?}");
    assert_eq!(error.sip_status, "Service Unavailable - room join failed");
    let records = bridge.bed.records(|r| r["roomName"] == "bed-nowhere-out");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0]["disconnectReason"], "JOIN_FAILURE",
        "{records:?}"
    );
    assert_eq!(records[0]["callDirection"], "SCD_OUTBOUND", "{records:?}");
    let sample = calls_ended("outbound", "JOIN_FAILURE", "5xx");
    assert_eq!(bridge.bed.metric(&sample), 1.0, "{sample}");
}

/// `/health` as a load balancer reads it: the status, a space, the body's line.
fn health(own: &Bed) -> String {
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-w",
            " %{http_code}",
            &format!("{}/health", own.api_url),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let (body, code) = text.rsplit_once(' ').unwrap_or_default();
    format!("{code} {}", body.trim())
}

/// The bridge of the test refused exactly one call, counted when its record was written.
fn assert_join_failure_counted(own: &Bed) {
    let sample = calls_ended("inbound", "JOIN_FAILURE", "5xx");
    assert_eq!(own.metric(&sample), 1.0, "{sample}");
}

/// With `sip.hide_inbound_port`, an INVITE from an address no trunk allows gets no answer at
/// all (not even 100 Trying, so a scanner learns nothing), yet the attempt has its record
/// and metric (docs/OUTCOMES.md: "403, or silence when hide_inbound_port"). OPTIONS, a
/// health probe, is still answered.
#[test]
fn a_hidden_port_does_not_answer_invites_from_unknown_addresses() {
    let Some(bed) = Bed::get("a_hidden_port_does_not_answer_invites_from_unknown_addresses") else {
        return;
    };
    let bridge = OwnBridge::start(
        &bed,
        "hidden",
        "sip: { external_ip: 127.0.0.1, hide_inbound_port: true }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550190\"], allowed_addresses: [192.0.2.0/24] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-hidden } } }]\n",
    );
    let phone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bridge_addr = bridge.bed.sip_addr.clone();
    let call_id = format!("hidden-{}@127.0.0.1", std::process::id());
    phone
        .send_to(request("INVITE", &phone, &call_id).as_bytes(), &bridge_addr)
        .unwrap();
    // Longer than 100 Trying's 200 ms and Timer A's first retransmission interval.
    phone
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    if let Ok((length, _)) = phone.recv_from(&mut buffer) {
        panic!(
            "the hidden port answered:\n{}",
            String::from_utf8_lossy(&buffer[..length])
        );
    }
    let record = bridge.bed.cdr_of(&call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "SIP_TRUNK_FAILURE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 403, "{record}");
    let sample = calls_ended("inbound", "SIP_TRUNK_FAILURE", "4xx");
    assert_eq!(bridge.bed.metric(&sample), 1.0, "{sample}");

    let probe = format!("options-{call_id}");
    phone
        .send_to(request("OPTIONS", &phone, &probe).as_bytes(), &bridge_addr)
        .unwrap();
    let (length, _) = phone.recv_from(&mut buffer).expect("OPTIONS unanswered");
    let answer = String::from_utf8_lossy(&buffer[..length]);
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
}

/// A request without a body from `phone` to +15550190.
fn request(method: &str, phone: &std::net::UdpSocket, call_id: &str) -> String {
    let local = phone.local_addr().unwrap();
    // A branch is a token: no '@'.
    let branch = call_id.replace('@', ".");
    format!(
        "{method} sip:+15550190@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:+15557770001@{local}>;tag=hidden\r\n\
To: <sip:+15550190@127.0.0.1>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 {method}\r\n\
Contact: <sip:+15557770001@{local}>\r\n\
Content-Length: 0\r\n\r\n"
    )
}

/// The phone's end of a call: 2 s after the answer a re-INVITE without SDP (as PBXs send
/// for a session refresh), whose 200 brings the bridge's offer; the ACK answers it
/// `sendonly` (the phone will only send). [`reinvite_then_hang_up`] adds the BYE.
const REINVITE_WITHOUT_OFFER: &str = r#"  <pause milliseconds="2000"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bed Phone" <sip:+15557770001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:+15557770001@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bed Phone" <sip:+15557770001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=sendonly
    ]]>
  </send>
"#;

/// [`REINVITE_WITHOUT_OFFER`], then the phone's usual BYE 4 s later (its CSeq after the
/// re-INVITE's).
fn reinvite_then_hang_up() -> String {
    let bye = PHONE_HANGS_UP
        .replace("<pause/>", "<pause milliseconds=\"4000\"/>")
        .replace("CSeq: 2 BYE", "CSeq: 3 BYE");
    assert!(bye.contains("CSeq: 3 BYE") && bye.contains("4000"), "{bye}");
    format!("{REINVITE_WITHOUT_OFFER}{bye}")
}

/// A re-INVITE without SDP gets our offer in the 200, and the answer in its ACK is applied:
/// answered `sendonly`, the bridge stops sending to the phone. Seen in the bridge's own
/// `to_phone` packet count, sampled through the call: it grows before the re-INVITE and
/// not after it (the counts reach the metrics within a second).
#[test]
fn the_answer_in_the_ack_of_a_re_invite_without_sdp_is_applied() {
    let Some(bed) = Bed::get("the_answer_in_the_ack_of_a_re_invite_without_sdp_is_applied") else {
        return;
    };
    let bridge = OwnBridge::start(
        &bed,
        "reinvite",
        "rtp: { port_range: { min: 21300, max: 21399 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550195\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { direct: { room: bed-reinvite } } }]\n",
    );
    let phone = {
        let own = bridge.bed.clone();
        let text = scenario("uac_call", &[("HANGUP", &reinvite_then_hang_up())]);
        std::thread::spawn(move || run_uac(&own, "reinvite", &text, "+15550195", &[], WAIT))
    };
    let to_phone = "sipbridge_rtp_packets_total{direction=\"to_phone\"}";
    let mut samples = Vec::new(); // (seconds since the first packet counted, to_phone)
    let mut first_counted = None;
    while !phone.is_finished() {
        let count = bridge.bed.metric(to_phone);
        if count > 0.0 {
            let since = *first_counted.get_or_insert_with(std::time::Instant::now);
            samples.push((since.elapsed().as_secs_f64(), count));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = phone.join().unwrap();
    assert!(run.passed, "{}", run.trace);
    let ok = run.trace.split("SIP/2.0 200 OK").nth(2).unwrap_or_default();
    assert!(
        ok.contains("m=audio "),
        "no offer in the re-INVITE's 200:\n{}",
        run.trace
    );
    // The first count shows up to a second after the answer: the re-INVITE comes 1-2 s
    // after it, the ACK's answer takes effect within a second of that.
    let grown = |from: f64, to: f64| {
        let at = |t: f64| {
            samples
                .iter()
                .rev()
                .find(|(s, _)| *s <= t)
                .map_or(0.0, |x| x.1)
        };
        at(to) - at(from)
    };
    let (before, after) = (grown(0.0, 1.0), grown(3.5, 4.5));
    println!("to_phone packets counted: {before} in the first second, {after} from 3.5 to 4.5 s");
    assert!(
        before >= 30.0,
        "audio to the phone never flowed: {samples:?}"
    );
    assert!(
        after <= 2.0,
        "still sending to a sendonly phone: {samples:?}"
    );
}
