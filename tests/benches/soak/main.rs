//! The soak: one bridge (release build, in this process, on the bed's livekit-server) taking a
//! steady mix of calls for a given time, then the proof that every call attempted has exactly
//! one record, and how memory and file descriptors behaved.
//!
//! `tests/soak DURATION` (e.g. `3m`, `1h`) sets up the bed and runs it; with the bed's lines
//! exported, `cargo bench -p sipbridge-tests --bench soak -- DURATION`. What runs:
//! - steady, 2 calls/s of 30 s with audio both ways (≈60 up): every second a pair of calls
//!   into one room, a phone calling in (SIPp) and a call placed through the API to a carrier
//!   (SIPp), each looping a tone so each hears the other through the room. Half the pairs end
//!   from the phones (BYE from both SIP sides), half from the room (the API deletes it);
//! - every 15 s one call of each other outcome: an unknown number (404), a caller who
//!   cancels while the room rings, a right PIN and three wrong ones, a busy carrier (486), a
//!   transfer that completes and one the target refuses (the API's TransferSIPParticipant);
//! - every 3 minutes a burst of 20 calls/s for 5 s, of 2 s calls.
//!
//! Then: calls attempted (by SIP Call-ID on the phones' side, by participant identity on the
//! API's) against the record file, one to one, by stream and outcome; every 10 s the RSS and
//! open file descriptors, with the RSS slope (KiB per hour); p50/p95 setup times. Exits 1 when
//! attempts and records do not match one to one, or when more than 5 % of the calls ended
//! otherwise than their stream should (a broken run, not a slow one).

#![allow(clippy::unwrap_used)]

mod api_driver;
mod phones;
mod records;
mod sampler;
mod streams;

use std::time::{Duration, Instant};

use sipbridge_tests::{Bed, OwnBridge, sipp};

const CONFIG: &str = "\
inbound_trunks:
  - { id: soak-wait, allowed_addresses: [127.0.0.0/8], allowed_numbers: [\"+15557770004\"] }
  - { id: soak-pin, allowed_addresses: [127.0.0.0/8], allowed_numbers: [\"+15557770005\"] }
  - { id: soak-no-rule, numbers: [\"+15550409\"], allowed_addresses: [127.0.0.0/8] }
  - { id: soak-rooms, allowed_addresses: [127.0.0.0/8] }
dispatch_rules:
  - { id: soak-wait, trunk_ids: [soak-wait], rule: { callee: { room_prefix: soak-wait- } }, ringing_timeout: 60s }
  - { id: soak-pin, trunk_ids: [soak-pin], rule: { callee: { room_prefix: soak-pin-, pin: \"4321\" } } }
  - { id: soak-rooms, trunk_ids: [soak-rooms], rule: { callee: { room_prefix: soak- } } }
logging: { level: warn }
";

fn main() {
    let duration = duration_argument();
    let Some(bed) = Bed::get("soak") else { return };
    if !sipp::available("soak") {
        return;
    }
    let mut bridge = OwnBridge::start(&bed, "soak", CONFIG);
    let dir = bed.dir.join("soak");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "soak: {} of calls into a release-built bridge ({})",
        shown(duration),
        bridge.bed.sip_addr
    );

    let sampler = sampler::Sampler::start(bridge.bed.metrics_url.clone());
    let started = Instant::now();
    let run = streams::run(&bridge.bed, &dir, duration);
    // Every call has ended on its own by now (the streams waited for theirs): the bridge
    // is idle. Stopping it drains nothing and flushes the records.
    let samples = sampler.stop();
    let elapsed = started.elapsed();
    bridge.wait();

    let totals = records::reconcile(&bridge.bed.cdr, &run.attempts, &run.transfers);
    report(
        (duration, elapsed),
        &samples,
        totals,
        (run.sipp_passed, run.sipp_failed),
    );
}

/// Prints the figures; exits 1 when the records do not match the attempts.
fn report(
    (duration, elapsed): (Duration, Duration),
    samples: &[sampler::Sample],
    mut totals: records::Reconciled,
    (sipp_passed, sipp_failed): (u64, u64),
) {
    println!(
        "\n{:>6} {:>9} {:>5} {:>6} {:>10} {:>10}",
        "t", "RSS KiB", "fds", "calls", "RTP in/s", "RTP out/s"
    );
    let per_minute = (60 / sampler::PERIOD.as_secs()) as usize;
    for pair in samples.windows(2).step_by(per_minute.max(1)) {
        let seconds = (pair[1].at - pair[0].at).as_secs_f64();
        println!(
            "{:>6} {:>9} {:>5} {:>6.0} {:>10.0} {:>10.0}",
            shown(pair[1].at),
            pair[1].rss_kib,
            pair[1].fds,
            pair[1].active_calls,
            (pair[1].packets_from_phones - pair[0].packets_from_phones) / seconds,
            (pair[1].packets_to_phones - pair[0].packets_to_phones) / seconds,
        );
    }
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    // The slope of a steady window: after the ramp and the first two bursts (memory's high
    // water mark), and long enough for a trend to show.
    let warm_up = Duration::from_secs(300);
    let slope = (duration >= warm_up * 3)
        .then(|| sampler::rss_slope_kib_per_hour(samples, warm_up, duration))
        .flatten();
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let max_calls = samples.iter().map(|s| s.active_calls).fold(0.0, f64::max);
    println!(
        "\nsoak: {} run; {} calls attempted, {} records ({} missing, {} duplicated, {} of no \
         attempt); {} transfers asked, {} without exactly one line; {} calls or transfers ended otherwise \
         than expected; SIPp: {} scenarios ran as written, {} did not",
        shown(elapsed),
        totals.attempted,
        totals.records,
        totals.missing,
        totals.duplicated,
        totals.unattempted,
        totals.transfers_attempted,
        totals.transfers_missing,
        totals.unexpected_outcomes,
        sipp_passed,
        sipp_failed,
    );
    println!(
        "soak: RSS {} → {} KiB, slope from minute 5 to the last call placed {}; fds {} → {} (max {max_fds}); \
         up to {max_calls:.0} answered calls at once",
        first.rss_kib,
        last.rss_kib,
        slope.map_or("n/a (runs under 15 min)".into(), |s| format!(
            "{s:+.0} KiB/h"
        )),
        first.fds,
        last.fds,
    );
    for (direction, values) in &mut totals.setup_ms {
        println!(
            "soak: setup {direction} (INVITE or API request → answer, {} calls): p50 {:.0} ms, \
             p95 {:.0} ms",
            values.len(),
            records::quantile(values, 0.5),
            records::quantile(values, 0.95),
        );
    }
    let broken = totals.unexpected_outcomes * 20 > totals.attempted;
    if !totals.one_to_one() || broken {
        println!("soak: FAILED");
        std::process::exit(1);
    }
    println!("soak: passed: calls in = records out");
}

/// The run's length: the first argument that is not cargo's `--bench`, as `90s`, `3m`, `1h`
/// or `1h30m`; 3 minutes without one.
fn duration_argument() -> Duration {
    let Some(text) = std::env::args().skip(1).find(|arg| !arg.starts_with("--")) else {
        return Duration::from_secs(180);
    };
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => panic!("soak: {text:?} is not a duration such as 3m or 1h"),
        };
        total += number.parse::<u64>().unwrap() * unit;
        number.clear();
    }
    assert!(
        number.is_empty() && total > 0,
        "soak: {text:?} is not a duration such as 3m or 1h"
    );
    Duration::from_secs(total)
}

fn shown(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}
