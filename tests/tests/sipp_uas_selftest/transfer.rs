//! The carrier's side of a transfer (`sipbridge_tests::sipp_transfer`) checked without the
//! bridge: each ready-made script, ending `uas_answer.xml` (the bridge called the carrier) or
//! `uac_call.xml` (the phone called the bridge), against a stand-in bridge of
//! `tests/sipp/selftest/` (`uac_refers.xml`, `uas_refers.xml`) that sends the REFER and plays
//! the bridge's side of the script's steps, checking each NOTIFY in SIPp (`ereg check_it`).
//! The messages are then checked again here, field by field, from both traces.

use sipbridge_tests::sipp::{self, SippRun, header, run_uac_to, scenario};
use sipbridge_tests::sipp_transfer::{
    ACTIVE, Step, TERMINATED, TransferScript, bye_before_final, carrier_answering, completes,
    completes_then_carrier_hangs_up, fails, for_inbound_each, for_outbound_each, no_final,
    phone_calling, refer_refused, terminated_without_final, transfer_times, two_transfers,
};
use sipbridge_tests::sipp_uas::{SippUas, answer};

use super::{LIMIT, assert_passed, dir};

/// The CSeq of the stand-in's first REFER: not 2, so that the NOTIFYs' `Event: refer;id=7`
/// can only have come from the REFER, and their CSeq shows where SIPp's `[cseq]` went.
const FIRST_REFER_CSEQ: u32 = 7;

const SIP_TARGET: &str = "<sip:+15550999@127.0.0.1>";

/// Who the stand-in bridge is in the call.
#[derive(Clone, Copy, Debug)]
enum Standin {
    /// `uac_refers.xml`: it called the carrier.
    Caller,
    /// `uas_refers.xml`: the phone called it.
    Callee,
}

impl Standin {
    /// The From of the stand-in's requests.
    fn from(self) -> &'static str {
        match self {
            Self::Caller => {
                "From: <sip:+15550199@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"
            }
            Self::Callee => "From:[$own_end];tag=[pid]SIPpTag01[call_number]",
        }
    }
}

/// The carrier's script with the checks of what the stand-in's REFER carries.
fn checking(script: TransferScript, refer_to: &str) -> TransferScript {
    script
        .expecting_refer_to(&format!("^{}$", ere(refer_to)))
        .expecting_header("Referred-By", r"^<sip:\+1555[0-9]+@127\.0\.0\.1>$")
        .expecting_header("x-test", "^xfer-selftest$")
}

/// `text` as a POSIX extended regular expression that matches only it.
fn ere(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if r"\.[]()*+?{}|^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// TRANSFERS of the stand-in scenarios: for each `(refer_to, script)`, the REFER and the
/// bridge's side of the script.
fn standin_transfers(standin: Standin, transfers: &[(&str, &TransferScript)]) -> String {
    let mut xml = String::new();
    for (cseq, (refer_to, script)) in (FIRST_REFER_CSEQ..).zip(transfers) {
        if cseq > FIRST_REFER_CSEQ {
            // The carrier is back waiting for a REFER by then: one that came while it was
            // still answering the last would be unexpected.
            xml.push_str("  <pause milliseconds=\"300\"/>\n");
        }
        xml.push_str(&format!(
            r#"  <send retrans="500">
    <![CDATA[
      REFER [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      {from}
      To:[$peer_end]
      Call-ID: [call_id]
      CSeq: {cseq} REFER
      Contact: <sip:bridge@[local_ip]:[local_port]>
      Max-Forwards: 70
      Refer-To: {refer_to}
      Referred-By: <sip:+15550123@[local_ip]>
      X-Test: xfer-selftest
      Content-Length: 0
    ]]>
  </send>
  <recv response="{status}"/>
"#,
            from = standin.from(),
            status = script.refer_status,
        ));
        for step in &script.steps {
            xml.push_str(&answering(standin, step, cseq));
        }
    }
    // After the checks that set it (SIPp refuses a reference to a variable not yet seen), if
    // any did (SIPp refuses a variable set but never read).
    if xml.contains("assign_to=\"checked\"") {
        xml.push_str("  <Reference variables=\"checked\"/>\n");
    }
    xml
}

/// The bridge's side of `step` of the transfer whose REFER had CSeq `refer_cseq`.
fn answering(standin: Standin, step: &Step, refer_cseq: u32) -> String {
    let ok = r#"  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"#;
    let check = |header: &str, regex: &str| {
        format!(
            "      <ereg regexp=\"{regex}\" search_in=\"hdr\" header=\"{header}:\" \
             start_line=\"true\" case_indep=\"true\" check_it=\"true\" assign_to=\"checked\"/>\n"
        )
    };
    match step {
        Step::Pause(_) => String::new(),
        Step::Notify { sipfrag, state } => {
            let mut checks = check("Event", &format!("^ *refer;id={refer_cseq}$"));
            checks.push_str(&check("Subscription-State", &format!("^ *{}$", ere(state))));
            match sipfrag.lines().next() {
                Some(status_line) => checks.push_str(&format!(
                    "      <ereg regexp=\"^{}\" search_in=\"body\" check_it=\"true\" \
                     assign_to=\"checked\"/>\n",
                    ere(status_line)
                )),
                None => checks.push_str(&check("Content-Length", "^ *0$")),
            }
            format!(
                "  <recv request=\"NOTIFY\">\n    <action>\n{checks}    </action>\n  </recv>\n{ok}"
            )
        }
        Step::CarrierBye => format!("  <recv request=\"BYE\"/>\n{ok}"),
        Step::AwaitBridgeBye => format!(
            r#"  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      {from}
      To:[$peer_end]
      Call-ID: [call_id]
      CSeq: 99 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"#,
            from = standin.from()
        ),
    }
}

/// Plays `transfers` (each the Refer-To the stand-in sends and the carrier's script) with the
/// carrier answering the stand-in's call; returns the carrier's run and the stand-in's.
fn outbound(label: &str, transfers: &[(&str, &TransferScript)]) -> (SippRun, SippRun) {
    let scripts: Vec<TransferScript> = transfers.iter().map(|(_, s)| (*s).clone()).collect();
    let carrier = if let [script] = scripts.as_slice() {
        carrier_answering(script)
    } else {
        answer(&for_outbound_each(&scripts))
    };
    let standin = scenario(
        "selftest/uac_refers",
        &[("TRANSFERS", &standin_transfers(Standin::Caller, transfers))],
    );
    super::call(label, &carrier, &standin, &[])
}

/// Plays `transfers` with the carrier (a phone, `uac_call.xml`) calling the stand-in.
fn inbound(label: &str, transfers: &[(&str, &TransferScript)]) -> (SippRun, SippRun) {
    let scripts: Vec<TransferScript> = transfers.iter().map(|(_, s)| (*s).clone()).collect();
    let standin = scenario(
        "selftest/uas_refers",
        &[("TRANSFERS", &standin_transfers(Standin::Callee, transfers))],
    );
    let standin = SippUas::start_in(&dir(), &format!("{label}-bridge"), &standin, 1, &[]);
    let phone = if let [script] = scripts.as_slice() {
        phone_calling(script)
    } else {
        scenario("uac_call", &[("HANGUP", &for_inbound_each(&scripts))])
    };
    let carrier = run_uac_to(
        &dir(),
        &standin.addr(),
        label,
        &phone,
        "+15550123",
        &[],
        LIMIT,
    );
    (carrier, standin.finish(LIMIT))
}

/// The messages of `messages` without retransmissions (SIPp's are byte for byte the same).
fn distinct(messages: Vec<&str>) -> Vec<&str> {
    let mut out = Vec::new();
    for message in messages {
        if !out.contains(&message) {
            out.push(message);
        }
    }
    out
}

/// The tag parameter of a From or To value ("" if none).
fn tag(value: &str) -> &str {
    value
        .split(';')
        .find_map(|part| part.trim().strip_prefix("tag="))
        .unwrap_or_default()
}

fn cseq_number(message: &str) -> u32 {
    let cseq = header(message, "CSeq").unwrap();
    cseq.split_whitespace().next().unwrap().parse().unwrap()
}

/// `request` (the carrier's) belongs to the dialog of `refer` (the stand-in's): same Call-ID,
/// the tags swapped, and sent to the REFER's Contact.
fn assert_in_dialog(request: &str, refer: &str) {
    assert_eq!(header(request, "Call-ID"), header(refer, "Call-ID"));
    let carrier_tag = tag(header(refer, "To").unwrap());
    let bridge_tag = tag(header(refer, "From").unwrap());
    assert!(!carrier_tag.is_empty() && !bridge_tag.is_empty(), "{refer}");
    assert_eq!(
        tag(header(request, "From").unwrap()),
        carrier_tag,
        "{request}"
    );
    assert_eq!(tag(header(request, "To").unwrap()), bridge_tag, "{request}");
    let contact = header(refer, "Contact").unwrap();
    let uri = request.split_whitespace().nth(1).unwrap();
    assert_eq!(contact.trim_matches(['<', '>']), uri, "{request}");
}

/// Both runs exchanged what `transfers` promise: the REFERs as sent, the carrier's answers,
/// each NOTIFY as its step says (Event id, Subscription-State, sipfrag body, in the dialog,
/// CSeq increasing), and the BYE from the side the last step says.
fn assert_exchanged(carrier: &SippRun, standin: &SippRun, transfers: &[(&str, &TransferScript)]) {
    let refers = distinct(carrier.received("REFER "));
    assert_eq!(refers.len(), transfers.len(), "{}", carrier.trace);
    let mut notifies = distinct(standin.received("NOTIFY ")).into_iter();
    let mut last_cseq = 0;
    let mut carrier_byes = 0;
    let mut bridge_byes = 0;
    for (refer_cseq, ((refer_to, script), refer)) in
        (FIRST_REFER_CSEQ..).zip(transfers.iter().zip(&refers))
    {
        assert_eq!(cseq_number(refer), refer_cseq);
        assert_eq!(header(refer, "Refer-To"), Some(*refer_to));
        let answer = format!("SIP/2.0 {} {}\r", script.refer_status, script.refer_phrase);
        let answered = distinct(standin.received(&answer));
        assert!(
            answered.iter().any(|a| cseq_number(a) == refer_cseq),
            "no {answer:?} to the REFER:\n{}",
            standin.trace
        );
        for step in &script.steps {
            match step {
                Step::Notify { sipfrag, state } => {
                    let notify = notifies.next().expect("a NOTIFY");
                    println!("NOTIFY of the transfer {refer_cseq}:\n{notify}\n");
                    assert_in_dialog(notify, refer);
                    let cseq = cseq_number(notify);
                    assert!(cseq > last_cseq, "CSeq {cseq} after {last_cseq}");
                    last_cseq = cseq;
                    assert_eq!(
                        header(notify, "CSeq"),
                        Some(format!("{cseq} NOTIFY").as_str())
                    );
                    let event = format!("refer;id={refer_cseq}");
                    assert_eq!(header(notify, "Event"), Some(event.as_str()));
                    assert_eq!(header(notify, "Subscription-State"), Some(state.as_str()));
                    let body = notify.split_once("\r\n\r\n").map_or("", |(_, body)| body);
                    let lines: Vec<&str> = sipfrag.lines().collect();
                    assert_eq!(body, lines.join("\r\n"), "{notify}");
                    let (content_type, length) = if sipfrag.is_empty() {
                        (None, 0)
                    } else {
                        // Every line of the fragment ends with CRLF.
                        let length = lines.iter().map(|line| line.len() + 2).sum();
                        (Some("message/sipfrag;version=2.0"), length)
                    };
                    assert_eq!(header(notify, "Content-Type"), content_type, "{notify}");
                    let content_length = header(notify, "Content-Length").unwrap();
                    assert_eq!(content_length.parse::<usize>().unwrap(), length, "{notify}");
                }
                Step::CarrierBye => bridge_byes += 1,
                Step::AwaitBridgeBye => carrier_byes += 1,
                Step::Pause(_) => {}
            }
        }
    }
    assert_eq!(notifies.next(), None, "a NOTIFY no step sent");
    let byes = distinct(standin.received("BYE "));
    assert_eq!(byes.len(), bridge_byes, "{}", standin.trace);
    for bye in byes {
        assert_in_dialog(bye, refers[0]);
        assert!(cseq_number(bye) > last_cseq, "{bye}");
    }
    assert_eq!(distinct(carrier.received("BYE ")).len(), carrier_byes);
}

/// `script` (checking the REFER's Refer-To and headers) against the stand-in that called the
/// carrier: both runs pass and exchange what the script promises.
fn outbound_passes(label: &str, script: TransferScript) -> SippRun {
    let script = checking(script, SIP_TARGET);
    let transfers = [(SIP_TARGET, &script)];
    let (carrier, standin) = outbound(label, &transfers);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &standin);
    assert_exchanged(&carrier, &standin, &transfers);
    carrier
}

#[test]
fn transfer_completes_and_the_bridge_hangs_up() {
    if !sipp::available("transfer_completes_and_the_bridge_hangs_up") {
        return;
    }
    let carrier = outbound_passes("xfer-completes", completes(700));
    let times = transfer_times(&carrier).unwrap();
    let took = times
        .final_notify_sent
        .unwrap()
        .duration_since(times.refer_received)
        .unwrap();
    println!("REFER to final NOTIFY: {took:?}");
    assert!(took >= std::time::Duration::from_millis(700), "{took:?}");
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
}

#[test]
fn transfer_completes_and_the_carrier_hangs_up() {
    if !sipp::available("transfer_completes_and_the_carrier_hangs_up") {
        return;
    }
    outbound_passes("xfer-completes-bye", completes_then_carrier_hangs_up(200));
}

#[test]
fn transfer_fails_with_the_final_notify() {
    if !sipp::available("transfer_fails_with_the_final_notify") {
        return;
    }
    outbound_passes("xfer-fails", fails(486, "Busy Here", 300));
}

#[test]
fn transfer_subscription_ends_without_a_final_status() {
    if !sipp::available("transfer_subscription_ends_without_a_final_status") {
        return;
    }
    outbound_passes("xfer-terminated", terminated_without_final());
}

#[test]
fn transfer_carrier_hangs_up_before_the_final_status() {
    if !sipp::available("transfer_carrier_hangs_up_before_the_final_status") {
        return;
    }
    outbound_passes("xfer-bye-first", bye_before_final());
}

#[test]
fn transfer_without_a_final_status_waits_then_hangs_up() {
    if !sipp::available("transfer_without_a_final_status_waits_then_hangs_up") {
        return;
    }
    let carrier = outbound_passes("xfer-no-final", no_final(1500));
    assert_eq!(transfer_times(&carrier).unwrap().final_notify_sent, None);
}

#[test]
fn transfer_refer_refused() {
    if !sipp::available("transfer_refer_refused") {
        return;
    }
    for (code, phrase) in [(403, "Forbidden"), (501, "Not Implemented")] {
        let carrier = outbound_passes(&format!("xfer-refused-{code}"), refer_refused(code, phrase));
        assert!(carrier.sent("NOTIFY").is_empty());
    }
}

#[test]
fn transfer_in_flight_takes_one_refer() {
    if !sipp::available("transfer_in_flight_takes_one_refer") {
        return;
    }
    outbound_passes("xfer-two", two_transfers(1000));
}

#[test]
fn transfer_notify_bodies_may_be_longer_or_empty() {
    if !sipp::available("transfer_notify_bodies_may_be_longer_or_empty") {
        return;
    }
    let script = TransferScript::accepted(vec![
        Step::notify("SIP/2.0 183 Session Progress\nX-Fragment: yes", ACTIVE),
        Step::notify("", TERMINATED),
        Step::CarrierBye,
    ]);
    outbound_passes("xfer-bodies", script);
}

#[test]
fn transfer_refused_then_one_to_a_tel_uri_completes() {
    if !sipp::available("transfer_refused_then_one_to_a_tel_uri_completes") {
        return;
    }
    // Refused, and the call goes on: the carrier waits for the next REFER.
    let refused = TransferScript {
        steps: Vec::new(),
        ..refer_refused(405, "Method Not Allowed")
    };
    let tel = "<tel:+15550998>";
    let with_headers = "<sip:+15550999@127.0.0.1?X-Transfer-Case=second>";
    let (first, second) = (
        checking(refused, with_headers),
        checking(completes(200), tel),
    );
    let transfers = [(with_headers, &first), (tel, &second)];
    let (carrier, standin) = outbound("xfer-retried", &transfers);
    assert_passed("the carrier", &carrier);
    assert_passed("the stand-in bridge", &standin);
    assert_exchanged(&carrier, &standin, &transfers);
}

#[test]
fn transfer_checks_fail_the_carrier_on_a_wrong_refer() {
    if !sipp::available("transfer_checks_fail_the_carrier_on_a_wrong_refer") {
        return;
    }
    for (label, script) in [
        (
            "xfer-wrong-target",
            completes(0).expecting_refer_to("^<tel:"),
        ),
        (
            "xfer-missing-header",
            completes(0).expecting_header("X-Missing", "."),
        ),
        (
            "xfer-wrong-header",
            completes(0).expecting_header("X-Test", "^other$"),
        ),
    ] {
        let transfers = [(SIP_TARGET, &script)];
        let (carrier, standin) = outbound(label, &transfers);
        assert!(!carrier.passed, "{label} passed:\n{}", carrier.trace);
        assert!(
            carrier.trace.contains("Failed regexp match"),
            "{label}:\n{}",
            carrier.trace
        );
        // The check fails the run but SIPp plays on, so the stand-in sees the whole script.
        assert_passed("the stand-in bridge", &standin);
    }
}

#[test]
fn transfer_inbound_completes_and_fails() {
    if !sipp::available("transfer_inbound_completes_and_fails") {
        return;
    }
    for (label, script) in [
        ("xfer-in-completes", completes(300)),
        ("xfer-in-fails", fails(603, "Decline", 300)),
        ("xfer-in-refused", refer_refused(403, "Forbidden")),
    ] {
        let script = checking(script, SIP_TARGET);
        let transfers = [(SIP_TARGET, &script)];
        let (carrier, standin) = inbound(label, &transfers);
        assert_passed("the phone", &carrier);
        assert_passed("the stand-in bridge", &standin);
        assert_exchanged(&carrier, &standin, &transfers);
    }
}

#[test]
fn phone_calling_still_hangs_up_as_before() {
    if !sipp::available("phone_calling_still_hangs_up_as_before") {
        return;
    }
    // uac_call.xml's dialog capture changes nothing for its other endings: a phone's BYE,
    // against a stand-in that answers and waits for it.
    let standin = scenario("selftest/uas_refers", &[("TRANSFERS", CALLEE_AWAITS_BYE)]);
    let standin = SippUas::start_in(&dir(), "call-bye-bridge", &standin, 1, &[]);
    let phone = scenario("uac_call", &[("HANGUP", sipp::PHONE_HANGS_UP)]);
    let run = run_uac_to(
        &dir(),
        &standin.addr(),
        "call-bye",
        &phone,
        "+15550123",
        &["-d", "1000"],
        LIMIT,
    );
    assert_passed("the phone", &run);
    assert_passed("the stand-in bridge", &standin.finish(LIMIT));
}

/// TRANSFERS of `uas_refers.xml` for a call without a transfer: the phone's BYE, answered.
const CALLEE_AWAITS_BYE: &str = r#"  <Reference variables="own_end,peer_end"/>
  <recv request="BYE"/>
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
