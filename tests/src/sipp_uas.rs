//! SIPp as the carrier the bridge calls: a UAS scenario of `tests/sipp/uas_*.xml` listening on
//! 127.0.0.1 on a port of its own, which a test puts in the outbound trunk (an inline `trunk`
//! of CreateSIPParticipant, or an [`crate::OwnBridge`]'s config) before making the call.
//!
//! ```text
//! let text = scenario("uas_reject", &[("RINGING", RING_180), ("FINAL_CODE", "486"),
//!     ("FINAL_PHRASE", "Busy Here"), ("EXTRA_HEADERS", NO_HEADERS)]);
//! let carrier = SippUas::start(&bed, "busy", &text, 1, &[]);
//! // … CreateSIPParticipant with trunk.hostname = carrier.addr() …
//! let run = carrier.finish(Duration::from_secs(30));
//! assert!(run.passed, "{}", run.trace);
//! ```
//!
//! The scenarios' placeholders are filled in with [`crate::sipp::scenario`]; the blocks and
//! values below are what they are meant to be filled in with ([`reject`] and [`answer`] do
//! it for the usual cases). A placeholder left in the text
//! is a test bug, and [`SippUas::start`] panics on it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Bed;
use crate::sipp::{SippFiles, SippRun, free_port, header, scenario};

/// Every placeholder of the `uas_*.xml` scenarios.
const PLACEHOLDERS: &[&str] = &[
    "RINGING",
    "FINAL_CODE",
    "FINAL_PHRASE",
    "EXTRA_HEADERS",
    "SILENCE_MS",
    "CHALLENGE_STATUS",
    "CHALLENGE_HEADER",
    "CREDENTIALS_HEADER",
    "QOP_PARAM",
    "AUTH_USER",
    "AUTH_PASSWORD",
    "ANSWER_SDP",
    "EARLY_MEDIA_MS",
    "HANGUP",
];

/// RINGING: a 180 Ringing without a body, with the To tag of the final response.
pub const RING_180: &str = r#"  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"#;

/// RINGING: a provisional response with an SDP answer, e.g. `provisional("180 Ringing",
/// SDP_PCMA_PCMU)` or `provisional("183 Session Progress", SDP_PCMA_PCMU)`.
pub fn provisional(status: &str, sdp: &str) -> String {
    format!(
        r#"  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
    ]]>
  </send>
"#
    )
}

/// A pause of the scenario, to put after a RINGING block (how long the phone rings).
pub fn pause(milliseconds: u64) -> String {
    format!("  <pause milliseconds=\"{milliseconds}\"/>\n")
}

/// EXTRA_HEADERS when the test wants none. SIPp drops a line whose only content is a
/// `[last_…:]` keyword of a header the last message did not have, whereas an empty line
/// would end the headers.
pub const NO_HEADERS: &str = "[last_X-Sipbridge-No-Such-Header:]";

/// ANSWER_SDP: PCMA first (the pcap SIPp plays is A-law), PCMU, and RFC 4733 events as 101, on
/// SIPp's media port (`-mp`, which [`SippUas::start`] chooses).
pub const SDP_PCMA_PCMU: &str = "      v=0
      o=carrier 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 0 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv";

/// HANGUP: the carrier's BYE after `milliseconds`, then the bridge's 200.
pub fn carrier_hangs_up_after(milliseconds: u64) -> String {
    format!(
        r#"  <pause milliseconds="{milliseconds}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From:[$carrier_end];tag=[pid]SIPpTag01[call_number]
      To:[$bridge_end]
      Call-ID: [call_id]
      CSeq: [cseq] BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
"#
    )
}

/// HANGUP: the scenario waits for the bridge's BYE and answers it 200 (as a phone does).
pub use crate::sipp::ROOM_HANGS_UP as BRIDGE_HANGS_UP;

/// How `uas_auth_reject.xml` challenges: CHALLENGE_STATUS, CHALLENGE_HEADER and the
/// CREDENTIALS_HEADER the answer must come in (RFC 3261 §22.2, §22.3).
#[derive(Clone, Copy, Debug)]
pub struct Challenge {
    pub status: &'static str,
    pub header: &'static str,
    pub credentials: &'static str,
}

impl Challenge {
    /// The three replacements, to add to the scenario's others.
    pub fn replacements(&self) -> [(&'static str, &'static str); 3] {
        [
            ("CHALLENGE_STATUS", self.status),
            ("CHALLENGE_HEADER", self.header),
            ("CREDENTIALS_HEADER", self.credentials),
        ]
    }
}

/// A user agent server's challenge: 401 with WWW-Authenticate.
pub const WWW_AUTHENTICATE: Challenge = Challenge {
    status: "401 Unauthorized",
    header: "WWW-Authenticate",
    credentials: "Authorization",
};

/// A proxy's challenge: 407 with Proxy-Authenticate.
pub const PROXY_AUTHENTICATE: Challenge = Challenge {
    status: "407 Proxy Authentication Required",
    header: "Proxy-Authenticate",
    credentials: "Proxy-Authorization",
};

/// QOP_PARAM of `uas_auth_ok.xml`: the challenge offers qop="auth" (RFC 2617 §3.2.1)…
pub const QOP_AUTH: &str = r#", qop="auth""#;
/// …or no qop (the RFC 2069 form).
pub const NO_QOP: &str = "";

/// `uas_reject.xml` as most tests want it: a 180, then `code` `phrase`, no extra header.
pub fn reject(code: u16, phrase: &str) -> String {
    scenario(
        "uas_reject",
        &[
            ("RINGING", RING_180),
            ("FINAL_CODE", &code.to_string()),
            ("FINAL_PHRASE", phrase),
            ("EXTRA_HEADERS", NO_HEADERS),
        ],
    )
}

/// `uas_answer.xml` as most tests want it: a 180, 200 with [`SDP_PCMA_PCMU`], no extra header,
/// then `hangup` ([`carrier_hangs_up_after`] or [`BRIDGE_HANGS_UP`]).
pub fn answer(hangup: &str) -> String {
    scenario(
        "uas_answer",
        &[
            ("RINGING", RING_180),
            ("ANSWER_SDP", SDP_PCMA_PCMU),
            ("EXTRA_HEADERS", NO_HEADERS),
            ("HANGUP", hangup),
        ],
    )
}

/// SIPp playing the carrier, listening on 127.0.0.1 until it has handled its calls. Killed
/// when dropped, so a failing test leaves no SIPp behind.
#[derive(Debug)]
pub struct SippUas {
    child: Option<Child>,
    port: u16,
    media_port: u16,
    files: SippFiles,
}

impl SippUas {
    /// Starts `scenario_text` for `calls` calls (`-m`) on a free SIP port and media port of
    /// 127.0.0.1, with `extra_args` (e.g. `["-t", "t1"]` for TCP), SIPp's files in the bed's
    /// `sipp/` directory; returns once SIPp listens. `label` names the files.
    pub fn start(
        bed: &Bed,
        label: &str,
        scenario_text: &str,
        calls: u32,
        extra_args: &[&str],
    ) -> Self {
        Self::start_in(
            &bed.dir.join("sipp"),
            label,
            scenario_text,
            calls,
            extra_args,
        )
    }

    /// [`SippUas::start`] with SIPp's files in `dir`, for tests without a bed.
    pub fn start_in(
        dir: &Path,
        label: &str,
        scenario_text: &str,
        calls: u32,
        extra_args: &[&str],
    ) -> Self {
        let left: Vec<_> = PLACEHOLDERS
            .iter()
            .filter(|name| scenario_text.contains(*name))
            .collect();
        assert!(
            left.is_empty(),
            "{label}: the scenario still has placeholders {left:?}"
        );
        let files = SippFiles::new(dir, label, scenario_text);
        let (port, media_port) = (free_port(false), free_port(true));
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&files.scenario)
            .args(["-i", "127.0.0.1", "-nostdin", "-timeout_error"])
            .args(["-m", &calls.to_string()])
            .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(files.trace_args())
            .args(extra_args)
            // SIPp stamps its trace in local time: UTC makes the stamps exact (Traced::at).
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run sipp (tests/bed/setup installs it)");
        let mut uas = Self {
            child: Some(child),
            port,
            media_port,
            files,
        };
        let tcp = extra_args
            .windows(2)
            .any(|pair| pair[0] == "-t" && pair[1].starts_with('t'));
        uas.wait_until_listening(tcp, label);
        uas
    }

    /// The SIP address SIPp listens on, "127.0.0.1:PORT".
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIPp's RTP port (`[media_port]` in its SDP), the source of the RTP it plays.
    pub fn media_port(&self) -> u16 {
        self.media_port
    }

    /// Waits up to `limit` for SIPp to have handled its calls and exit (it is killed after
    /// that, and the run has not passed), and reports how the scenario went.
    pub fn finish(mut self, limit: Duration) -> SippRun {
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut trace = self.files.trace();
        if status.is_none() {
            trace.push_str(&format!(
                "\n(the harness killed SIPp: not finished after {limit:?})\n"
            ));
        }
        let mut run = SippRun {
            passed: status.is_some_and(|s| s.success()),
            call_id: String::new(),
            trace,
        };
        run.call_id = run
            .received("INVITE")
            .first()
            .and_then(|invite| header(invite, "Call-ID"))
            .unwrap_or_default()
            .to_owned();
        run
    }

    /// Polls the kernel's socket tables (binding the port ourselves to test it could take it
    /// from SIPp at the wrong moment) until SIPp's port is there; panics if SIPp exits first.
    fn wait_until_listening(&mut self, tcp: bool, label: &str) {
        let (table, state) = if tcp {
            ("/proc/net/tcp", Some("0A")) // TCP_LISTEN
        } else {
            ("/proc/net/udp", None)
        };
        let local = format!("0100007F:{:04X}", self.port);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listening = std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .any(|line| {
                    let fields: Vec<_> = line.split_whitespace().collect();
                    fields.get(1) == Some(&local.as_str())
                        && state.is_none_or(|state| fields.get(3) == Some(&state))
                });
            if listening {
                return;
            }
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{label}: SIPp exited ({status}) before listening:\n{}",
                    self.files.trace()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{label}: SIPp does not listen on {} after 10 s",
                self.addr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SippUas {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
