//! SIPp in the soak: phones calling the bridge at a steady rate for the whole run, each call's
//! Call-ID logged as SIPp places it (the attempts counted on the SIP side), and the audio they
//! loop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sipbridge_media::g711::Law;
use sipbridge_media::tone::Sine;
use sipbridge_tests::sipp::free_port;

/// SIPp's `<exec>` that plays the bed's 7 s pcap once, in the scenarios of `tests/sipp/`.
const PCAP_ONCE: &str = r#"<exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/>"#;

/// Writes one second of a 440 Hz tone as raw PCMA into `dir`, for SIPp to loop for a whole
/// call (`rtp_stream`): the pcap plays 7 s, and a call without RTP ends at the media timeout.
pub(crate) fn tone_file(dir: &Path) -> PathBuf {
    let mut pcm = vec![0i16; 8000];
    Sine::new(440.0, 8000, 8000).fill(&mut pcm);
    let mut alaw = vec![0u8; pcm.len()];
    Law::A.encode(&pcm, &mut alaw);
    let path = dir.join(format!("soak-tone-{}.alaw", std::process::id()));
    std::fs::write(&path, alaw).unwrap();
    path
}

/// `scenario` with its pcap replaced by `tone` (PCMA) looped until the call ends.
pub(crate) fn looping(scenario: &str, tone: &Path) -> String {
    assert!(scenario.contains(PCAP_ONCE), "the scenario plays no pcap");
    let stream = format!(r#"<exec rtp_stream="{},-1,8"/>"#, tone.display());
    scenario.replace(PCAP_ONCE, &stream)
}

/// `scenario` logging its Call-ID before it sends anything, so that every call SIPp placed is
/// in its log file, however the call went.
fn logging_attempts(scenario: &str) -> String {
    let open = scenario.find("<scenario").expect("a SIPp scenario");
    let end = open + scenario[open..].find('>').unwrap() + 1;
    let log = "\n  <nop><action><log message=\"[call_id]\"/></action></nop>";
    format!("{}{log}{}", &scenario[..end], &scenario[end..])
}

/// How many calls a stream places, how often, and how long SIPp's `<pause/>` holds each.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub(crate) calls: u64,
    pub(crate) every: Duration,
    pub(crate) hold: Duration,
}

/// One SIPp process placing calls to the bridge at a steady [`Pace`].
#[derive(Debug)]
pub(crate) struct PhoneStream {
    child: Option<Child>,
    log: PathBuf,
    stats: PathBuf,
}

/// What a finished stream did.
#[derive(Debug)]
pub(crate) struct PhoneRun {
    /// The Call-ID of every call SIPp placed.
    pub(crate) attempted: Vec<String>,
    /// SIPp's own verdicts: calls whose scenario ran as written, and the others.
    pub(crate) successful: u64,
    pub(crate) failed: u64,
}

impl PhoneStream {
    /// Starts SIPp (files in `dir`, named after `name`) calling `number` at `target`; the
    /// Call-IDs are `soak-<name>-<pid>-<n>@127.0.0.1`.
    pub(crate) fn start(
        dir: &Path,
        target: &str,
        name: &str,
        scenario: &str,
        number: &str,
        pace: Pace,
    ) -> Self {
        let unique = format!("soak-{name}-{}", std::process::id());
        let file = dir.join(format!("{unique}.xml"));
        std::fs::write(&file, logging_attempts(scenario)).unwrap();
        let log = dir.join(format!("{unique}.calls.log"));
        let stats = dir.join(format!("{unique}.stats.csv"));
        let errors = dir.join(format!("{unique}.errors.log"));
        for stale in [&log, &stats, &errors] {
            let _ = std::fs::remove_file(stale);
        }
        let (port, media_port) = (free_port(false), free_port(true));
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(&file)
            .arg(target)
            .args(["-s", number, "-i", "127.0.0.1", "-nostdin"])
            .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(["-m", &pace.calls.to_string(), "-r", "1"])
            .args(["-rp", &pace.every.as_millis().to_string()])
            .args(["-d", &pace.hold.as_millis().to_string(), "-l", "5000"])
            .args(["-cid_str", &format!("{unique}-%u@127.0.0.1")])
            .args([
                "-trace_logs".as_ref(),
                "-log_file".as_ref(),
                log.as_os_str(),
            ])
            .args(["-trace_stat".as_ref(), "-stf".as_ref(), stats.as_os_str()])
            .args([
                "-trace_err".as_ref(),
                "-error_file".as_ref(),
                errors.as_os_str(),
            ])
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run sipp (tests/bed/setup installs it)");
        Self {
            child: Some(child),
            log,
            stats,
        }
    }

    /// Waits up to `limit` for SIPp to have placed and finished its calls (it is killed after
    /// that), and reads what it did.
    pub(crate) fn finish(mut self, limit: Duration) -> PhoneRun {
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > limit {
                eprintln!("soak: SIPp ({}) still running, killed", self.log.display());
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let attempted = std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|line| line.contains('@'))
            .map(str::to_owned)
            .collect();
        let (successful, failed) = final_counts(&self.stats);
        PhoneRun {
            attempted,
            successful,
            failed,
        }
    }
}

impl Drop for PhoneStream {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The cumulative successful and failed call counts of SIPp's statistics file (`-trace_stat`:
/// `;`-separated, a header line, then one line per period and one at the end).
fn final_counts(stats: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(stats).unwrap_or_default();
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let Some(header) = lines.next() else {
        return (0, 0);
    };
    let last = lines.next_back().unwrap_or_default();
    let columns: Vec<&str> = header.split(';').collect();
    let values: Vec<&str> = last.split(';').collect();
    let count = |name: &str| {
        let column = columns.iter().position(|c| *c == name);
        column
            .and_then(|i| values.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (count("SuccessfulCall(C)"), count("FailedCall(C)"))
}
