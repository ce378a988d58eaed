//! SIPp as a phone calling the bridge: runs a scenario of `tests/sipp/` (with the test's
//! substitutions) for one call and reports how it went, with SIPp's message trace. SIPp as the
//! carrier the bridge calls is [`crate::sipp_uas`].

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Bed;

/// One finished SIPp run.
#[derive(Debug)]
pub struct SippRun {
    /// SIPp's exit status was 0: every message of the scenario was exchanged as written.
    pub passed: bool,
    /// The Call-ID of the (first) call, for finding the call detail record: the one SIPp used
    /// as a phone, or the one of the first INVITE it received as a carrier ("" if none came).
    pub call_id: String,
    /// SIPp's trace of every message sent and received, and its error log.
    pub trace: String,
}

/// What separates the message trace from the error log in [`SippRun::trace`].
const ERRORS_MARK: &str = "\n--- errors ---\n";

impl SippRun {
    /// The messages SIPp received whose first line starts with `start` (e.g. `"INVITE"`,
    /// `"BYE"`, `"SIP/2.0 200"`), in the order they came, retransmissions included.
    pub fn received(&self, start: &str) -> Vec<&str> {
        self.messages()
            .into_iter()
            .filter(|traced| traced.received && traced.message.starts_with(start))
            .map(|traced| traced.message)
            .collect()
    }

    /// The messages SIPp sent whose first line starts with `start`, retransmissions included.
    pub fn sent(&self, start: &str) -> Vec<&str> {
        self.messages()
            .into_iter()
            .filter(|traced| !traced.received && traced.message.starts_with(start))
            .map(|traced| traced.message)
            .collect()
    }

    /// Every message of the trace, sent or received, in order, with its time.
    pub fn messages(&self) -> Vec<Traced<'_>> {
        traced_messages(&self.trace).collect()
    }
}

/// One message of a SIPp message trace.
#[derive(Clone, Copy, Debug)]
pub struct Traced<'a> {
    /// When SIPp sent or received it (to the microsecond).
    pub at: SystemTime,
    /// Received, else sent.
    pub received: bool,
    /// The message, without the line ends around it.
    pub message: &'a str,
}

/// The messages of a SIPp message trace (`-trace_msg`). SIPp writes each one as a line of
/// dashes and a time stamp ("2026-11-22 02:12:25.237709", in its local time zone, which the
/// harness sets to UTC), a line such as "UDP message received [513] bytes :" or "UDP message
/// sent (228 bytes):", an empty line, then the message.
fn traced_messages(trace: &str) -> impl Iterator<Item = Traced<'_>> {
    let messages = trace.split(ERRORS_MARK).next().unwrap_or_default();
    messages
        .split("-----------------------------------------------")
        .filter_map(|block| {
            let (stamp, rest) = block.split_once('\n')?;
            let (what, message) = rest.split_once('\n')?;
            let received = what.contains("message received");
            (received || what.contains("message sent")).then(|| Traced {
                at: parse_stamp(stamp.trim()).unwrap_or(UNIX_EPOCH),
                received,
                message: message.trim_matches(['\r', '\n']),
            })
        })
}

/// A trace time stamp, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC.
fn parse_stamp(stamp: &str) -> Option<SystemTime> {
    let (date, time) = stamp.split_once(' ')?;
    let mut date = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock = clock.split(':').map(|part| part.parse::<u64>().ok());
    let (hours, minutes, seconds) = (clock.next()??, clock.next()??, clock.next()??);
    // Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse, with
    // years starting in March so that leap days come last).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = u64::try_from(era * 146_097 + day_of_era - 719_468).ok()?;
    let micros: u64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    let seconds = days * 86_400 + hours * 3_600 + minutes * 60 + seconds;
    Some(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros))
}

/// The value of the first `name` header of a SIP `message`, trimmed: the name matched without
/// regard to case, and in its compact form too if it has one (RFC 3261 §7.3.3).
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let compact = match name.to_ascii_lowercase().as_str() {
        "call-id" => "i",
        "from" => "f",
        "to" => "t",
        "via" => "v",
        "contact" => "m",
        "content-type" => "c",
        "content-length" => "l",
        _ => "",
    };
    message
        .lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            let field = field.trim();
            (field.eq_ignore_ascii_case(name)
                || (!compact.is_empty() && field.eq_ignore_ascii_case(compact)))
            .then(|| value.trim())
        })
}

/// SIPp's files of one run: its scenario, message trace and error log, in `dir`, named after
/// `label`, this process and a port free now (so concurrent runs never share them).
#[derive(Debug)]
pub(crate) struct SippFiles {
    pub(crate) unique: String,
    pub(crate) scenario: PathBuf,
    pub(crate) messages: PathBuf,
    pub(crate) errors: PathBuf,
}

impl SippFiles {
    pub(crate) fn new(dir: &Path, label: &str, scenario_text: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let unique = format!("{label}-{}-{}", std::process::id(), free_port(false));
        let scenario = dir.join(format!("{unique}.xml"));
        std::fs::write(&scenario, scenario_text).unwrap();
        Self {
            messages: dir.join(format!("{unique}.messages.log")),
            errors: dir.join(format!("{unique}.errors.log")),
            scenario,
            unique,
        }
    }

    /// The arguments that make SIPp write the message trace and the error log.
    pub(crate) fn trace_args(&self) -> Vec<&std::ffi::OsStr> {
        vec![
            "-trace_msg".as_ref(),
            "-message_file".as_ref(),
            self.messages.as_os_str(),
            "-trace_err".as_ref(),
            "-error_file".as_ref(),
            self.errors.as_os_str(),
        ]
    }

    /// The message trace, then the error log.
    pub(crate) fn trace(&self) -> String {
        let read = |path: &PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        format!(
            "{}{ERRORS_MARK}{}",
            read(&self.messages),
            read(&self.errors)
        )
    }
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

/// Two distinct ports free right now (a livekit-server's signal and media ports).
pub fn two_free_ports() -> (u16, u16) {
    let first = free_port(false);
    loop {
        let second = free_port(false);
        if second != first {
            return (first, second);
        }
    }
}

/// The ports tests hand out: above the bridge's default RTP range (10000–20000) and below
/// Linux's ephemeral range (32768–60999). A port taken from the ephemeral range could be
/// given by the kernel to any other socket (a bridge's room leg, a client connection) between
/// the test choosing it and SIPp binding it: a CI run failed that way ("Unable to bind main
/// socket, errno = 98").
const TEST_PORTS: std::ops::Range<u16> = 21000..32700;

/// The next port to try, shared by the test threads of this process so that two of them are
/// never handed the same port; it starts at a place that depends on the process id so that
/// test binaries run one after another do not retry the ports the last one used.
fn next_candidate() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start);
    let start = std::process::id().wrapping_mul(7919) % span;
    let _ = CURSOR.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    let offset = CURSOR.fetch_add(1, Ordering::SeqCst) % span;
    TEST_PORTS.start + offset as u16
}

/// A port free right now on 127.0.0.1 for UDP and TCP, from [`TEST_PORTS`]; with `media`, an
/// even one whose three successors are free too: SIPp binds the audio RTP port and the one two
/// above it (video), and RTCP would take the odd ones.
pub fn free_port(media: bool) -> u16 {
    loop {
        let port = next_candidate();
        let free = |port: u16| {
            UdpSocket::bind(("127.0.0.1", port)).is_ok()
                && TcpListener::bind(("127.0.0.1", port)).is_ok()
        };
        if !media {
            if free(port) {
                return port;
            }
            continue;
        }
        if !port.is_multiple_of(2) || port + 3 >= TEST_PORTS.end {
            continue;
        }
        // Taking the successors from the cursor keeps other threads from being handed them.
        let successors: Vec<u16> = (0..3).map(|_| next_candidate()).collect();
        if successors == [port + 1, port + 2, port + 3] && (port..=port + 3).all(free) {
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
    let dir = bed.dir.join("sipp");
    run_uac_to(
        &dir,
        &bed.sip_addr,
        label,
        scenario_text,
        number,
        extra,
        limit,
    )
}

/// [`run_uac`] against any SIP address `target` (e.g. a [`crate::sipp_uas::SippUas`] in a
/// self-test), with SIPp's files in `dir`.
pub fn run_uac_to(
    dir: &Path,
    target: &str,
    label: &str,
    scenario_text: &str,
    number: &str,
    extra: &[&str],
    limit: Duration,
) -> SippRun {
    let files = SippFiles::new(dir, label, scenario_text);
    let (port, media_port) = (free_port(false), free_port(true));
    // `%u` is SIPp's call number: one Call-ID per call when a run places several.
    let call_id_format = format!("{}-%u@127.0.0.1", files.unique);
    let call_id = format!("{}-1@127.0.0.1", files.unique);
    let mut child = Command::new("sipp")
        .arg("-sf")
        .arg(&files.scenario)
        .arg(target)
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
        .args(files.trace_args())
        .args(extra)
        // SIPp stamps its trace in local time: UTC makes the stamps exact (Traced::at).
        .env("TZ", "UTC")
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
    SippRun {
        passed: status.is_some_and(|s| s.success()),
        call_id,
        trace: files.trace(),
    }
}

/// [`run_uac`] in a thread of its own, for a test that has more to do while the call is up
/// (e.g. transfer it through the API): `join()` the handle for the run.
pub fn spawn_uac(
    bed: &Bed,
    label: &str,
    scenario_text: &str,
    number: &str,
    extra: &[&str],
    limit: Duration,
) -> JoinHandle<SippRun> {
    spawn_uac_to(
        &bed.dir.join("sipp"),
        &bed.sip_addr,
        label,
        scenario_text,
        number,
        extra,
        limit,
    )
}

/// [`run_uac_to`] in a thread of its own: `join()` the handle for the run.
pub fn spawn_uac_to(
    dir: &Path,
    target: &str,
    label: &str,
    scenario_text: &str,
    number: &str,
    extra: &[&str],
    limit: Duration,
) -> JoinHandle<SippRun> {
    let (dir, target, label) = (dir.to_owned(), target.to_owned(), label.to_owned());
    let (scenario_text, number) = (scenario_text.to_owned(), number.to_owned());
    let extra: Vec<String> = extra.iter().map(|&arg| arg.to_owned()).collect();
    std::thread::spawn(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        run_uac_to(
            &dir,
            &target,
            &label,
            &scenario_text,
            &number,
            &extra,
            limit,
        )
    })
}

/// Whether SIPp can be run here. When it cannot, prints why `test` is skipped, or panics
/// with `CI=true`, where nothing may be skipped.
pub fn available(test: &str) -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        let reason = "SIPp is not installed (tests/bed/setup installs it)";
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test}: {reason}");
        }
        eprintln!("SKIPPED {test}: {reason}");
    }
    found
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

/// A PCMU-only offer for `uac_refused`'s OFFER_BODY (SIPp fills in the addresses).
pub const PCMU_OFFER: &str = "      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000";

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

/// One key as SIP INFO (`application/dtmf-relay`, as Cisco gateways send it), answered 200.
const INFO_KEY: &str = r#"  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Bed Phone" <sip:+15557770001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: CSEQ INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=KEY
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
"#;

/// HANGUP of `uac_call.xml` for a rule with a PIN: each PIN keyed as INFOs, with time between
/// them for the verdict (in cluster mode livekit-server's: keys while it decides do not
/// count), then `end`.
pub fn keyed_pins(pins: &[&str], end: &str) -> String {
    let mut cseq = 1;
    let mut text = String::new();
    for (index, pin) in pins.iter().enumerate() {
        if index > 0 {
            text.push_str("  <pause milliseconds=\"1500\"/>\n");
        }
        for key in pin.chars() {
            cseq += 1;
            let info = INFO_KEY
                .replace("CSEQ", &cseq.to_string())
                .replace("KEY", &key.to_string());
            text.push_str(&info);
        }
    }
    text + end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_stamps_are_utc_times() {
        let at = |stamp| {
            parse_stamp(stamp)
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
        };
        assert_eq!(
            at("2026-11-22 02:12:25.237709"),
            Duration::new(1_795_313_545, 237_709_000)
        );
        assert_eq!(
            at("2024-02-29 23:59:59.000000"),
            Duration::from_secs(1_709_251_199)
        );
        assert_eq!(parse_stamp("not a stamp"), None);
    }
}
