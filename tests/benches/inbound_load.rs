//! Load run of inbound calls: SIPp places N concurrent calls (PCMA, the G.711 speech of
//! Debian sip-tester's pcap as RTP) into a bridge built in release mode, running in this
//! process (`OwnBridge`), each call in a room of its own on the bed's livekit-server. While
//! all N are up, prints the bridge's CPU (this process: the bridge's tasks only) as calls
//! per core, and its resident memory per call, plus how many calls SIPp completed.
//!
//! `INBOUND_LOAD_CALLS` (default 20) sets N; each call lasts 18 s.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sipbridge_tests::sipp::{PHONE_HANGS_UP, run_uac, scenario};
use sipbridge_tests::{Bed, OwnBridge};

/// CPU seconds this process has used (user + system), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); 11 and 12 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let Some(bed) = Bed::get("inbound_load") else {
        return;
    };
    let calls: u64 = std::env::var("INBOUND_LOAD_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let bridge = OwnBridge::start(
        &bed,
        "load",
        "rtp: { port_range: { min: 22000, max: 22999 } }\n\
         inbound_trunks: [{ id: t, numbers: [\"+15550190\"], allowed_addresses: [127.0.0.0/8] }]\n\
         dispatch_rules: [{ id: r, rule: { individual: { room_prefix: load- } } }]\n\
         logging: { level: warn }\n\
         limits: { max_cpu_utilization: 1.0 }\n",
    );
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle = rss_kib();

    // All calls start within `calls / 10` seconds and last 18 s (the pcap's 7 s of RTP plus
    // less than the 15 s media timeout); measure 10 s in between.
    let hold_ms = 18_000;
    let text = scenario("uac_call", &[("HANGUP", PHONE_HANGS_UP)]);
    let phone = {
        let own = bridge.bed.clone();
        let (calls, hold) = (calls.to_string(), hold_ms.to_string());
        std::thread::spawn(move || {
            let args = ["-d", &hold, "-l", &calls, "-m", &calls, "-r", "10"];
            run_uac(
                &own,
                "load",
                &text,
                "+15550190",
                &args,
                Duration::from_secs(120),
            )
        })
    };
    let ramp = Duration::from_millis(calls * 100 + 3_000);
    std::thread::sleep(ramp);
    let (cpu_before, started) = (cpu_seconds(), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let cores = (cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    let rss_loaded = rss_kib();
    let run = phone.join().unwrap();
    let completed = run.trace.matches("BYE sip:").count();

    let per_call_kib = rss_loaded.saturating_sub(rss_idle) as f64 / calls as f64;
    println!(
        "inbound load: {calls} concurrent calls (PCMA out every 20 ms, Opus to LiveKit every \
         20 ms, the pcap's 30 ms PCMA in for each call's first 7 s), bridge CPU {:.1} % of one core → {:.0} calls per core; RSS {} → {} KiB, \
         {:.0} KiB per call; SIPp {} ({} BYEs sent)",
        cores * 100.0,
        calls as f64 / cores.max(f64::EPSILON),
        rss_idle,
        rss_loaded,
        per_call_kib,
        if run.passed { "passed" } else { "FAILED" },
        completed,
    );
}
