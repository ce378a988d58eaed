//! Proves the test bed: a 440 Hz tone crosses the real livekit-server between two members played
//! by the official Python SDK, the official Node SDK sees them both, and the bridge, Redis and
//! SIPp of the bed answer.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sipbridge_tests::{Bed, RoomMember};

const TONE_HZ: f64 = 440.0;
const TOLERANCE_HZ: f64 = 5.0;

fn unique_room(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[test]
fn a_440_hz_tone_crosses_the_real_server() {
    let Some(bed) = Bed::get("a_440_hz_tone_crosses_the_real_server") else {
        return;
    };
    let room = unique_room("smoke");
    // The listener gives up 5 s after joining if no 440 Hz has arrived (the bound).
    let mut listener = RoomMember::join(
        &bed,
        &room,
        "listener",
        &["--detect-tone", "--timeout", "5"],
    );
    let mut speaker = RoomMember::join(
        &bed,
        &room,
        "speaker",
        &["--publish-tone", "440", "--stay", "30"],
    );

    let listener_joined = listener.expect("joined", Duration::from_secs(20));
    let speaker_joined = speaker.expect("joined", Duration::from_secs(20));
    speaker.expect("published", Duration::from_secs(10));

    let tone = listener.expect("tone", Duration::from_secs(15));
    let hz = tone["hz"].as_f64().unwrap();
    println!(
        "detected {hz:.2} Hz from {} (rms {}); join {} ms (listener) / {} ms (speaker); \
         first audio {} ms, detected {} ms after the listener started",
        tone["from"],
        tone["rms"],
        listener_joined["join_ms"],
        speaker_joined["join_ms"],
        tone["first_audio_ms"],
        tone["detect_ms"]
    );
    assert_eq!(tone["from"], "speaker");
    assert!(
        (hz - TONE_HZ).abs() <= TOLERANCE_HZ,
        "detected {hz} Hz, want {TONE_HZ} ± {TOLERANCE_HZ}"
    );
    assert!(listener.wait(), "the listener exited with a failure");
}

#[test]
fn the_node_server_sdk_lists_the_members() {
    let Some(bed) = Bed::get("the_node_server_sdk_lists_the_members") else {
        return;
    };
    let room = unique_room("node");
    let mut alice = RoomMember::join(&bed, &room, "alice", &["--stay", "30"]);
    let mut bob = RoomMember::join(&bed, &room, "bob", &["--stay", "30"]);
    alice.expect("joined", Duration::from_secs(20));
    bob.expect("joined", Duration::from_secs(20));

    let output = Command::new("node")
        .arg(Bed::tests_file("node/list_participants.mjs"))
        .arg(&room)
        .env("LIVEKIT_URL", &bed.livekit_url)
        .env("LIVEKIT_API_KEY", &bed.api_key)
        .env("LIVEKIT_API_SECRET", &bed.api_secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed: {stderr}");
    let identities: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(identities, ["alice", "bob"]);
}

#[test]
fn the_bridge_redis_and_sipp_of_the_bed_answer() {
    let Some(bed) = Bed::get("the_bridge_redis_and_sipp_of_the_bed_answer") else {
        return;
    };
    let run = |program: &str, args: &[&str]| {
        let output = Command::new(program).args(args).output();
        let output = output.unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };

    let health_url = bed.metrics_url.replace("/metrics", "/health");
    assert_eq!(
        run("curl", &["-s", &health_url]),
        (true, "ready\n".to_owned())
    );
    let (ok, metrics) = run("curl", &["-sf", &bed.metrics_url]);
    assert!(
        ok && metrics.contains("sipbridge_build_info{version="),
        "{metrics}"
    );

    let (host, port) = bed.redis_addr.split_once(':').unwrap();
    assert_eq!(
        run("redis-cli", &["-h", host, "-p", port, "ping"]),
        (true, "PONG\n".to_owned())
    );

    // `sipp -v` prints its version and exits 99.
    let (_, version) = run("sipp", &["-v"]);
    assert!(version.contains("SIPp v3"), "sipp -v printed {version:?}");
}
