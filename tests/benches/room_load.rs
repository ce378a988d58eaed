//! Load run of the room participant against the bed's livekit-server: N participants in one
//! process, in rooms of two (a phone call and the agent it talks to), each publishing a tone
//! (Opus-encoded at 16 kHz, as for a G.722 call) and decoding the other's. Prints join time
//! p50/p95 (join start, which opens the signal connection → our first RTP packet sent), CPU
//! and RSS per participant.
//!
//! `ROOM_LOAD_PARTICIPANTS` (default 20) and `ROOM_LOAD_SECONDS` (default 10) set the size.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sipbridge::room::{
    self, Departure, DisconnectReason, Identity, JoinRequest, RoomEvent, RoomSettings,
};
use sipbridge_media::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use sipbridge_media::tone::Sine;
use sipbridge_tests::Bed;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(bed) = Bed::get("room_load") else {
        return;
    };
    let participants = env_number("ROOM_LOAD_PARTICIPANTS", 20) as usize;
    let seconds = env_number("ROOM_LOAD_SECONDS", 10);
    let settings = RoomSettings {
        url: bed.livekit_url.clone(),
        api_key: bed.api_key.clone(),
        api_secret: bed.api_secret.clone(),
    };

    let rss_before = rss_kib();

    let mut joins = Vec::new();
    let mut handles = Vec::new();
    let mut encoders = Vec::new();
    let mut decoders = Vec::new();
    for i in 0..participants {
        let who = Identity {
            identity: format!("load-{i}"),
            ..Default::default()
        };
        let room_name = format!("load-{}-{}", std::process::id(), i / 2);
        let (handle, mut events) = room::join(
            &settings,
            JoinRequest {
                room: room_name.clone(),
                who,
            },
        )
        .await
        .unwrap();
        let sender = handle.audio_sender();
        // The call actor's two halves: encode our tone every 20 ms, decode what the room sends.
        // The encoder starts at once, as a call's does, so the join ends with the first RTP.
        encoders.push(tokio::spawn(async move {
            let mut encoder = OpusEncoder::new(16_000, EncoderSettings::default()).unwrap();
            let mut sine = Sine::new(1000.0, 16_000, 9_000);
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while !sender.is_closed() {
                tick.tick().await;
                sender.send(encoder.encode(&sine.frame()).unwrap().to_vec());
            }
        }));
        let after = loop {
            match events.recv().await {
                Some(RoomEvent::AudioSent { after }) => break after,
                Some(RoomEvent::Ended(end)) => panic!("participant {i} ended: {end:?}"),
                Some(_) => {}
                None => panic!("participant {i} task gone"),
            }
        };
        joins.push(after);
        decoders.push(tokio::spawn(async move {
            let mut decoder = OpusDecoder::new(16_000).unwrap();
            let mut packets = 0u64;
            while let Some(event) = events.recv().await {
                if let RoomEvent::Audio(audio) = event
                    && decoder.decode(&audio.opus).is_ok()
                {
                    packets += 1;
                }
            }
            packets
        }));
        handles.push(handle);
    }

    // Let every subscription settle before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cores = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64();
    let rss_after = rss_kib();

    let mut sorted = joins.clone();
    sorted.sort();
    println!(
        "room participant load: {participants} participants in one process, rooms of two, audio both ways, {seconds} s measured"
    );
    println!(
        "  join → first RTP sent: p50 {:?}  p95 {:?}  max {:?}",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.95),
        sorted[sorted.len() - 1]
    );
    println!(
        "  CPU: {:.1}% of one core in all, {:.2}% per participant ({:.0} participants per core)",
        cores * 100.0,
        cores * 100.0 / participants as f64,
        participants as f64 / cores
    );
    println!(
        "  RSS: {} KiB before joining, {} KiB after, {:.0} KiB per participant",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / participants as f64
    );

    for handle in handles {
        handle
            .leave(Departure {
                reason: DisconnectReason::ClientInitiated,
                status_code: 200,
                status_reason: "Load run over".into(),
            })
            .await;
    }
    let mut received = Vec::new();
    for task in decoders {
        if let Ok(Ok(packets)) = tokio::time::timeout(Duration::from_secs(5), task).await {
            received.push(packets);
        }
    }
    for task in encoders {
        task.abort();
    }
    received.sort();
    println!(
        "  remote audio packets decoded per participant: min {} max {} (of {} participants)",
        received.first().unwrap_or(&0),
        received.last().unwrap_or(&0),
        received.len()
    );
}
