//! The participant RPCs agents call on a SIP participant, performed by the official Python
//! SDK (`perform_rpc`) on a SIPp caller's participant: `lk.sip.GetRemoteHeaders` returns the
//! caller's INVITE headers, an unknown method gets LiveKit's error 1400, and
//! `lk.sip.EndCall` ends the call — its headers on the BYE SIPp checks, with the attribute
//! the trunk's `attributes_to_headers` maps (set on the caller through the server API), its
//! own row in the record and on the participant's departure. On a call we placed,
//! `GetRemoteHeaders` gives the answering carrier's 200 OK headers.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::api::{Sdk, create_sip_participant};
use sipbridge_tests::sipp::{run_uac, scenario};
use sipbridge_tests::sipp_uas::{BRIDGE_HANGS_UP, RING_180, SDP_PCMA_PCMU, SippUas};
use sipbridge_tests::{Bed, RoomMember};

const WAIT: Duration = Duration::from_secs(30);
const CALLER_IDENTITY: &str = "sip_+15557770001";

/// The bridge's BYE must carry the header EndCall asked for and the mapped attribute (SIPp
/// fails the call if not).
const ROOM_HANGS_UP_WITH_REASON: &str = r#"  <recv request="BYE" timeout="60000">
    <action>
      <ereg regexp="agent-done" search_in="hdr" header="X-Reason:" check_it="true"
            assign_to="reason"/>
      <ereg regexp="T-4242" search_in="hdr" header="X-Ticket:" check_it="true"
            assign_to="ticket"/>
    </action>
  </recv>
  <Reference variables="reason,ticket"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"#;

fn rpc(member: &mut RoomMember, method: &str, payload: Value) -> Value {
    let payload = payload.to_string();
    member.command(
        json!({"cmd": "rpc", "to": CALLER_IDENTITY, "method": method, "payload": payload}),
    );
    member.expect_where("rpc_result", WAIT, |e| e["method"] == method)
}

#[test]
fn an_agent_reads_the_callers_headers_and_ends_the_call_over_rpc() {
    let test = "an_agent_reads_the_callers_headers_and_ends_the_call_over_rpc";
    let Some(bed) = Bed::get(test) else { return };
    let number = "+15550176";
    let mut member = RoomMember::join(&bed, &format!("bed-{number}"), "agent", &["--commands"]);
    member.expect("joined", WAIT);
    let phone = {
        let bed = bed.clone();
        std::thread::spawn(move || {
            let text = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP_WITH_REASON)]);
            run_uac(&bed, "rpc", &text, number, &[], WAIT)
        })
    };
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == CALLER_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });

    let include = json!({"include": ["X-Bed-Case", "from"]});
    let answer = rpc(&mut member, "lk.sip.GetRemoteHeaders", include);
    let headers: Value = serde_json::from_str(answer["payload"].as_str().unwrap()).unwrap();
    println!("lk.sip.GetRemoteHeaders: {headers}");
    assert_eq!(headers["headers"]["X-Bed-Case"], "audio", "{headers}");
    let from = headers["headers"]["From"].as_str().unwrap();
    assert!(from.contains("+15557770001"), "{headers}");
    assert_eq!(
        headers["headers"].as_object().unwrap().len(),
        2,
        "{headers}"
    );

    member.command(
        json!({"cmd": "rpc", "to": CALLER_IDENTITY, "method": "lk.sip.Dance", "payload": "{}"}),
    );
    let refused = member.expect("rpc_error", WAIT);
    assert_eq!(refused["code"], 1400, "{refused}");

    // The trunk maps crm.ticket to X-Ticket on our BYE.
    let ticket = json!({"crm.ticket": "T-4242"});
    member.command(json!({"cmd": "update", "identity": CALLER_IDENTITY, "attributes": ticket}));
    member.expect_where("attributes", WAIT, |e| {
        e["from"] == CALLER_IDENTITY && e["attributes"]["crm.ticket"] == "T-4242"
    });
    let end = json!({"headers": {"X-Reason": "agent-done"}});
    let ended = rpc(&mut member, "lk.sip.EndCall", end);
    assert_eq!(ended["payload"], "{}");
    let run = phone.join().unwrap();
    assert!(
        run.passed,
        "the phone did not get the BYE with X-Reason:\n{}",
        run.trace
    );
    let left = member.expect_where("left", WAIT, |e| e["identity"] == CALLER_IDENTITY);
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "CLIENT_INITIATED"
    );
    assert_eq!(
        left["attributes"]["sip.statusReason"],
        "Ended by lk.sip.EndCall"
    );
    let record = bed.cdr_of(&run.call_id, WAIT);
    assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 200, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Ended by lk.sip.EndCall",
        "{record}"
    );
}

/// On a call we placed, `lk.sip.GetRemoteHeaders` gives the far end's 200 OK headers.
#[test]
fn an_agent_reads_the_answering_carriers_headers_on_a_placed_call() {
    let test = "an_agent_reads_the_answering_carriers_headers_on_a_placed_call";
    let Some(bed) = Bed::get(test) else { return };
    let answered = scenario(
        "uas_answer",
        &[
            ("RINGING", RING_180),
            ("ANSWER_SDP", SDP_PCMA_PCMU),
            ("EXTRA_HEADERS", "X-Carrier-Ref: abc123"),
            ("HANGUP", BRIDGE_HANGS_UP),
        ],
    );
    let carrier = SippUas::start(&bed, "rpc-outbound", &answered, 1, &[]);
    let mut member = RoomMember::join(&bed, "out-rpc", "agent", &["--commands"]);
    member.expect("joined", WAIT);
    let request = json!({
        "trunk": { "hostname": carrier.addr() },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "out-rpc",
        "participant_identity": "callee-rpc",
        "wait_until_answered": true,
    });
    let reply = create_sip_participant(&bed, Sdk::Python, &request, WAIT);
    assert!(reply.ok.is_some(), "{reply:?}");
    let asked = json!({"cmd": "rpc", "to": "callee-rpc", "method": "lk.sip.GetRemoteHeaders",
        "payload": json!({"include": ["x-carrier-ref"]}).to_string()});
    member.command(asked);
    let answer = member.expect("rpc_result", WAIT);
    let headers: Value = serde_json::from_str(answer["payload"].as_str().unwrap()).unwrap();
    assert_eq!(headers, json!({"headers": {"X-Carrier-Ref": "abc123"}}));
    let end =
        json!({"cmd": "rpc", "to": "callee-rpc", "method": "lk.sip.EndCall", "payload": "{}"});
    member.command(end);
    member.expect("rpc_result", WAIT);
    let run = carrier.finish(WAIT);
    assert!(run.passed, "the carrier got no BYE: {}", run.trace);
}
