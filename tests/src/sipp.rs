//! SIPp as a phone calling the bridge: runs a scenario of `tests/sipp/` (with the test's
//! substitutions) for one call and reports how it went, with SIPp's message trace.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Bed;

/// One finished SIPp run.
#[derive(Debug)]
pub struct SippRun {
    /// SIPp's exit status was 0: every message of the scenario was exchanged as written.
    pub passed: bool,
    /// The Call-ID SIPp used for the (first) call, for finding the call detail record.
    pub call_id: String,
    /// SIPp's trace of every message sent and received, and its error log.
    pub trace: String,
}

/// A scenario of `tests/sipp/`, with `replacements` applied to its text.
pub fn scenario(name: &str, replacements: &[(&str, &str)]) -> String {
    let path = Bed::tests_file(&format!("sipp/{name}.xml"));
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    text
}

/// A UDP port free right now on 127.0.0.1 (and the one above it, for RTCP, when `pair`).
fn free_port(pair: bool) -> u16 {
    loop {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        if !pair || (port.is_multiple_of(2) && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()) {
            return port;
        }
    }
}

/// Runs `scenario_text` (one call) against the bed's bridge, dialling `number`, with extra
/// SIPp arguments; `label` names the files and starts the Call-ID.
pub fn run_uac(
    bed: &Bed,
    label: &str,
    scenario_text: &str,
    number: &str,
    extra: &[&str],
    limit: Duration,
) -> SippRun {
    let dir: PathBuf = bed.dir.join("sipp");
    std::fs::create_dir_all(&dir).unwrap();
    let unique = format!("{label}-{}-{}", std::process::id(), free_port(false));
    let scenario_file = dir.join(format!("{unique}.xml"));
    std::fs::write(&scenario_file, scenario_text).unwrap();
    let messages = dir.join(format!("{unique}.messages.log"));
    let errors = dir.join(format!("{unique}.errors.log"));
    let (port, media_port) = (free_port(false), free_port(true));
    // `%u` is SIPp's call number: one Call-ID per call when a run places several.
    let call_id_format = format!("{unique}-%u@127.0.0.1");
    let call_id = format!("{unique}-1@127.0.0.1");
    let mut child = Command::new("sipp")
        .arg("-sf")
        .arg(&scenario_file)
        .arg(&bed.sip_addr)
        .args([
            "-s",
            number,
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout_error",
        ])
        .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
        .args(["-cid_str", &call_id_format])
        .args(["-timeout", &format!("{}s", limit.as_secs().max(1))])
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&messages)
        .arg("-trace_err")
        .arg("-error_file")
        .arg(&errors)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run sipp (tests/bed/setup installs it)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit + Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |path: &PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    SippRun {
        passed: status.is_some_and(|s| s.success()),
        call_id,
        trace: format!("{}\n--- errors ---\n{}", read(&messages), read(&errors)),
    }
}

/// The scenario's BYE from the phone after `-d` milliseconds, then its 200.
pub const PHONE_HANGS_UP: &str = r#"  <pause/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bed Phone" <sip:+15557770001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>"#;

/// The scenario waits for the bridge's BYE and answers it 200.
pub const ROOM_HANGS_UP: &str = r#"  <recv request="BYE" timeout="60000"/>
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
