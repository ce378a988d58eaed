//! SIPp as the carrier side of a transfer (TransferSIPParticipant makes the bridge send an
//! in-dialog REFER, RFC 3515): the block that takes the place of HANGUP once the call is up,
//! in `uas_answer.xml` when the bridge called SIPp ([`for_outbound`], or the whole scenario
//! with [`carrier_answering`]) or in `uac_call.xml` when SIPp called the bridge
//! ([`for_inbound`], [`phone_calling`]). The block waits (up to 60 s) for the REFER, checks its
//! Refer-To and headers, answers it, then plays the [`TransferScript`]'s steps: NOTIFYs of the
//! implicit subscription, pauses, and the end of the call from either side.
//!
//! ```text
//! let script = completes(500)
//!     .expecting_refer_to(r"^<sip:\+15550999@127\.0\.0\.1>$")
//!     .expecting_header("X-Test", "^xfer$");
//! let carrier = SippUas::start(&bed, "xfer", &carrier_answering(&script), 1, &[]);
//! // … CreateSIPParticipant to carrier.addr(), then TransferSIPParticipant …
//! let run = carrier.finish(Duration::from_secs(90));
//! assert!(run.passed, "{}", run.trace);
//!
//! // Inbound: the phone's run blocks until the call ends, so it runs in a thread.
//! let phone = spawn_uac(&bed, "xfer-in", &phone_calling(&fails(486, "Busy Here", 500)),
//!     "+15550100", &[], Duration::from_secs(90));
//! // … wait for the participant, then TransferSIPParticipant …
//! let run = phone.join().unwrap();
//! ```
//!
//! What the bridge sees, and must live with:
//! - Each NOTIFY carries `Event: refer;id=N`, N the REFER's CSeq number; `Subscription-State`
//!   as the step says ([`ACTIVE`], [`TERMINATED`]); `Content-Type: message/sipfrag;version=2.0`
//!   and the step's fragment as the body (each line ended by CRLF), or no body and no
//!   Content-Type when the fragment is empty. Each NOTIFY is retransmitted (SIPp's timer,
//!   from 500 ms, doubling) until the bridge's 200 comes, which must come: the run fails
//!   otherwise.
//! - The carrier's own requests (NOTIFY, BYE) take their CSeq from SIPp's `[cseq]`, which
//!   increases by one per request sent but first jumps to any higher CSeq it received: after
//!   a REFER with CSeq 2 the first NOTIFY has CSeq 3, whoever sent what before. They increase
//!   strictly, which is all RFC 3261 §12.2.2 asks, but they are not 1, 2, 3.
//! - They go to the bridge's Contact (`[next_url]`, with the route set of its Record-Route),
//!   From the carrier's end of the dialog, To the bridge's, both with their tags.
//! - Anything else the bridge sends while the block waits or pauses (a second REFER, a BYE
//!   before the script expects one) is unexpected, and fails the run; so does a REFER that
//!   does not come within 60 s of the call's start (of the last step, for the next of
//!   [`for_outbound_each`]).
//! - The carrier plays its 7 s of RTP from the answer on, then none: a test whose call lasts
//!   longer sets a long `media_timeout`.

use std::time::SystemTime;

use crate::sipp::{ROOM_HANGS_UP, SippRun, header, scenario};
use crate::sipp_uas::answer;

/// `Subscription-State` of a NOTIFY while the transfer goes on.
pub const ACTIVE: &str = "active;expires=60";
/// `Subscription-State` of the NOTIFY that ends the subscription (RFC 3515 §2.4.5).
pub const TERMINATED: &str = "terminated;reason=noresource";

/// What the carrier does after it has answered the REFER, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Waits this many milliseconds.
    Pause(u64),
    /// Sends a NOTIFY with `sipfrag` as its body (lines such as "SIP/2.0 180 Ringing", more
    /// lines for the fragment's headers; empty for no body) and `state` as its
    /// `Subscription-State`, then waits for the bridge's 200. SIPp strips each line's leading
    /// spaces and reads `[` as the start of one of its keywords.
    Notify { sipfrag: String, state: String },
    /// Sends BYE and waits for the bridge's 200.
    CarrierBye,
    /// Waits up to 60 s for the bridge's BYE and answers it 200.
    AwaitBridgeBye,
}

impl Step {
    pub fn notify(sipfrag: &str, state: &str) -> Self {
        Self::Notify {
            sipfrag: sipfrag.to_owned(),
            state: state.to_owned(),
        }
    }
}

/// How the carrier takes one REFER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferScript {
    /// The answer to the REFER: 202 Accepted, or a refusal (403, 405, 501, …), after which a
    /// carrier sends no NOTIFY.
    pub refer_status: u16,
    pub refer_phrase: String,
    /// A POSIX extended regular expression the Refer-To value must match (SIPp's `ereg`
    /// `check_it`: the run fails otherwise). It is searched for, not anchored, in the value
    /// as it stands after the colon; a leading `^` anchors at its start past the spaces, and
    /// `$` at the end of the line.
    pub expect_refer_to: String,
    /// Headers the REFER must carry, each with a regular expression its value must match as
    /// `expect_refer_to` does (e.g. Referred-By, or an X- header of the API request). Names
    /// are matched without regard to case, but not in compact form (Refer-To's "r",
    /// Referred-By's "b").
    pub expect_headers: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl TransferScript {
    /// 202 Accepted, then `steps`; a Refer-To of any value, no other header expected.
    pub fn accepted(steps: Vec<Step>) -> Self {
        Self {
            refer_status: 202,
            refer_phrase: "Accepted".into(),
            expect_refer_to: ".".into(),
            expect_headers: Vec::new(),
            steps,
        }
    }

    /// The same script, wanting a Refer-To that matches `regex`.
    pub fn expecting_refer_to(mut self, regex: &str) -> Self {
        regex.clone_into(&mut self.expect_refer_to);
        self
    }

    /// The same script, wanting a `name` header that matches `regex` too.
    pub fn expecting_header(mut self, name: &str, regex: &str) -> Self {
        self.expect_headers
            .push((name.to_owned(), regex.to_owned()));
        self
    }
}

/// The transfer completes: 202; NOTIFY 100 and 180 (active); after `final_delay_ms` the
/// NOTIFY "SIP/2.0 200 OK" (terminated); then the bridge's BYE.
pub fn completes(final_delay_ms: u64) -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::notify("SIP/2.0 180 Ringing", ACTIVE),
        Step::Pause(final_delay_ms),
        Step::notify("SIP/2.0 200 OK", TERMINATED),
        Step::AwaitBridgeBye,
    ])
}

/// As [`completes`], but the carrier hangs up right after its final NOTIFY, before the
/// bridge does (which the bridge must then not do).
pub fn completes_then_carrier_hangs_up(final_delay_ms: u64) -> TransferScript {
    let mut script = completes(final_delay_ms);
    script.steps.pop();
    script.steps.push(Step::CarrierBye);
    script
}

/// The transfer target refuses: 202; NOTIFY 100; after `final_delay_ms` the NOTIFY
/// "SIP/2.0 `code` `phrase`" (terminated); the call stays up 1 s, then the carrier hangs up.
pub fn fails(code: u16, phrase: &str, final_delay_ms: u64) -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::Pause(final_delay_ms),
        Step::notify(&format!("SIP/2.0 {code} {phrase}"), TERMINATED),
        Step::Pause(1000),
        Step::CarrierBye,
    ])
}

/// The subscription ends with no final status: 202; NOTIFY 100 (active); after 500 ms a
/// NOTIFY "SIP/2.0 180 Ringing" that is already terminated; the call stays up 1 s, then the
/// carrier hangs up.
pub fn terminated_without_final() -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::Pause(500),
        Step::notify("SIP/2.0 180 Ringing", TERMINATED),
        Step::Pause(1000),
        Step::CarrierBye,
    ])
}

/// The carrier hangs up before any final status: 202; NOTIFY 100 and 180; after 500 ms its
/// BYE.
pub fn bye_before_final() -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::notify("SIP/2.0 180 Ringing", ACTIVE),
        Step::Pause(500),
        Step::CarrierBye,
    ])
}

/// No final status ever: 202; NOTIFY 100 and 180; nothing for `wait_ms` (longer than the
/// transfer's ringing timeout), then the carrier hangs up.
pub fn no_final(wait_ms: u64) -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::notify("SIP/2.0 180 Ringing", ACTIVE),
        Step::Pause(wait_ms),
        Step::CarrierBye,
    ])
}

/// The REFER itself is refused with `code` `phrase` (no NOTIFY); the call stays up 1 s, then
/// the carrier hangs up.
pub fn refer_refused(code: u16, phrase: &str) -> TransferScript {
    TransferScript {
        refer_status: code,
        refer_phrase: phrase.to_owned(),
        ..TransferScript::accepted(vec![Step::Pause(1000), Step::CarrierBye])
    }
}

/// A second transfer while the first is in flight: the first REFER is taken (202; NOTIFY
/// 100), then nothing for `pause_ms`, while the test asks for a second transfer, which the
/// bridge must refuse without a second REFER (one would fail the run); then the first
/// completes (NOTIFY 200 OK, terminated) and the bridge hangs up.
pub fn two_transfers(pause_ms: u64) -> TransferScript {
    TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::Pause(pause_ms),
        Step::notify("SIP/2.0 200 OK", TERMINATED),
        Step::AwaitBridgeBye,
    ])
}

/// HANGUP of `uas_answer.xml`: the carrier the bridge called takes the REFER as `script` says.
pub fn for_outbound(script: &TransferScript) -> String {
    for_outbound_each(std::slice::from_ref(script))
}

/// HANGUP of `uac_call.xml`: the phone that called the bridge takes the REFER as `script`
/// says.
pub fn for_inbound(script: &TransferScript) -> String {
    for_inbound_each(std::slice::from_ref(script))
}

/// HANGUP of `uas_answer.xml` for several REFERs in turn (all but the last script must leave
/// the call up: e.g. a refused transfer, then one that completes).
pub fn for_outbound_each(scripts: &[TransferScript]) -> String {
    scripts.iter().map(|s| blocks(s, Side::Outbound)).collect()
}

/// HANGUP of `uac_call.xml` for several REFERs in turn.
pub fn for_inbound_each(scripts: &[TransferScript]) -> String {
    scripts.iter().map(|s| blocks(s, Side::Inbound)).collect()
}

/// `uas_answer.xml` as [`crate::sipp_uas::answer`] makes it, ending with `script`.
pub fn carrier_answering(script: &TransferScript) -> String {
    answer(&for_outbound(script))
}

/// `uac_call.xml` ending with `script`, for [`crate::sipp::run_uac`] or
/// [`crate::sipp::spawn_uac`].
pub fn phone_calling(script: &TransferScript) -> String {
    scenario("uac_call", &[("HANGUP", &for_inbound(script))])
}

/// When a carrier's run took its (first) REFER, and sent the first NOTIFY that ended the
/// subscription (its first transmission), by the times of SIPp's message trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferTimes {
    pub refer_received: SystemTime,
    pub final_notify_sent: Option<SystemTime>,
}

/// The [`TransferTimes`] of `carrier`'s run, or `None` if no REFER came.
pub fn transfer_times(carrier: &SippRun) -> Option<TransferTimes> {
    let messages = carrier.messages();
    let refer = messages
        .iter()
        .position(|m| m.received && m.message.starts_with("REFER "))?;
    let final_notify = messages[refer..].iter().find(|m| {
        !m.received
            && m.message.starts_with("NOTIFY ")
            && header(m.message, "Subscription-State").is_some_and(|s| s.starts_with("terminated"))
    });
    Some(TransferTimes {
        refer_received: messages[refer].at,
        final_notify_sent: final_notify.map(|m| m.at),
    })
}

/// Which scenario the block goes into: who the carrier is in the dialog.
#[derive(Clone, Copy, Debug)]
enum Side {
    /// `uas_answer.xml`: the bridge's INVITE gave the dialog's ends (its From, the bridge's
    /// end with its tag; its To, the carrier's, whose tag the carrier's 200 added).
    Outbound,
    /// `uac_call.xml`: the bridge's 200 gave them (its From, the phone's own with its tag;
    /// its To, the bridge's with its tag).
    Inbound,
}

impl Side {
    fn from(self) -> &'static str {
        match self {
            Self::Outbound => "From:[$carrier_end];tag=[pid]SIPpTag01[call_number]",
            Self::Inbound => "From:[$carrier_end]",
        }
    }

    /// The Contact the scenario's own messages give.
    fn contact(self) -> &'static str {
        match self {
            Self::Outbound => {
                "Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>"
            }
            Self::Inbound => "Contact: <sip:+15557770001@[local_ip]:[local_port]>",
        }
    }
}

/// The SIPp XML of one REFER taken as `script` says: the REFER, with its CSeq number (the id
/// of the subscription's Event) kept and its headers checked, the answer, then the steps.
/// Without XML comments: `scenario()` also fills in the placeholder where a scenario's own
/// comment names it, and a comment in a comment would break the XML.
fn blocks(script: &TransferScript, side: Side) -> String {
    let mut checks = vec![check("Refer-To", &script.expect_refer_to)];
    checks.extend(script.expect_headers.iter().map(|(n, r)| check(n, r)));
    let mut xml = format!(
        r#"  <recv request="REFER" timeout="60000">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" start_line="true" case_indep="true"
            assign_to="refer_cseq"/>
{checks}    </action>
  </recv>
  <Reference variables="refer_cseq,refer_checked"/>
  <send>
    <![CDATA[
      SIP/2.0 {status} {phrase}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      {contact}
      Content-Length: 0
    ]]>
  </send>
"#,
        checks = checks.concat(),
        status = script.refer_status,
        phrase = script.refer_phrase,
        contact = side.contact(),
    );
    for step in &script.steps {
        xml.push_str(&match step {
            Step::Pause(milliseconds) => format!("  <pause milliseconds=\"{milliseconds}\"/>\n"),
            Step::Notify { sipfrag, state } => notify(side, sipfrag, state),
            Step::CarrierBye => request(side, "BYE", "", ""),
            Step::AwaitBridgeBye => format!("{ROOM_HANGS_UP}\n"),
        });
    }
    xml
}

/// An `ereg` that fails the run unless the REFER has a `name` header matching `regex`.
fn check(name: &str, regex: &str) -> String {
    // SIPp hands the regex the value with the spaces after the colon.
    let regex = match regex.strip_prefix('^') {
        Some(rest) => format!("^[[:blank:]]*{rest}"),
        None => regex.to_owned(),
    };
    format!(
        "      <ereg regexp=\"{}\" search_in=\"hdr\" header=\"{}:\" start_line=\"true\"\n            \
         case_indep=\"true\" check_it=\"true\" assign_to=\"refer_checked\"/>\n",
        xml_attribute(&regex),
        xml_attribute(name),
    )
}

/// `text` as an attribute value of SIPp's XML parser, which reads `\\`, `\n`, `\t`, `\r` and
/// `\"` as C escapes (keeping other backslashes) and knows no entities but the four below.
fn xml_attribute(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A NOTIFY of the REFER's subscription (RFC 3515 §2.4.4, §2.4.6).
fn notify(side: Side, sipfrag: &str, state: &str) -> String {
    let headers = format!(
        "      {}\n      Event: refer;id=[$refer_cseq]\n      Subscription-State: {state}\n",
        side.contact()
    );
    request(side, "NOTIFY", &headers, sipfrag)
}

/// An in-dialog request from the carrier with `headers` (lines) and `body` (a sipfrag, or
/// empty), retransmitted until the bridge's 200, which it waits for.
fn request(side: Side, method: &str, headers: &str, body: &str) -> String {
    let body = if body.is_empty() {
        "      Content-Length: 0\n".to_owned()
    } else {
        // SIPp strips the lines' leading spaces and ends each with CRLF.
        let lines: String = body.lines().map(|line| format!("      {line}\n")).collect();
        format!(
            "      Content-Type: message/sipfrag;version=2.0\n      Content-Length: [len]\n\n\
             {lines}"
        )
    };
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {from}
      To:[$bridge_end]
      Call-ID: [call_id]
      CSeq: [cseq] {method}
      Max-Forwards: 70
{headers}{body}    ]]>
  </send>
  <recv response="200"/>
"#,
        from = side.from(),
    )
}
