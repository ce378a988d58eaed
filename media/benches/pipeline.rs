//! Cost of the media pipeline per 20 ms frame, against the codec floor.
//!
//! `cargo bench -p sipbridge-media --bench pipeline` prints, per frame: each direction of
//! a call (phone RTP → room Opus, room Opus → phone RTP) for G.711 at 8 kHz and G.722 at
//! 16 kHz; the codec floor (bare libopus encode + decode at the same rate and settings);
//! the ratio pipeline/floor; the mixer with 1, 3 and 8 tracks; the jitter buffer; RTP
//! parsing; and heap allocations per frame in steady state, counted by a counting global
//! allocator. Figures, not assertions: the machine decides the numbers.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use audiopus::coder::{Decoder, Encoder};
use audiopus::{Application, Bitrate, Channels, SampleRate};
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::g711::Law;
use sipbridge_media::g722::{G722Decoder, G722Encoder};
use sipbridge_media::jitter::{JitterBuffer, JitterLimits, Pop};
use sipbridge_media::leg::{Direction, LegSettings, Negotiated, PhoneReceiver, PhoneSender};
use sipbridge_media::mixer::Mixer;
use sipbridge_media::opus::{EncoderSettings, OpusEncoder, default_bitrate};
use sipbridge_media::rtp::{PayloadType, RtpPacket, Ssrc};
use sipbridge_media::samples_per_frame;
use sipbridge_media::tone::Sine;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const FRAMES: usize = 3000;
const RUNS: usize = 5;

/// Median ns per frame over several runs, and heap allocations per frame.
struct Measured {
    ns: f64,
    allocs: f64,
}

/// Runs `step(i)` for `FRAMES` frames, `RUNS` times after a warm-up run.
fn measure(mut step: impl FnMut(usize)) -> Measured {
    let mut frame = 0;
    for _ in 0..FRAMES {
        step(frame);
        frame += 1;
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut allocs = 0;
    for _ in 0..RUNS {
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        for _ in 0..FRAMES {
            step(frame);
            frame += 1;
        }
        times.push(start.elapsed().as_nanos() as f64 / FRAMES as f64);
        allocs += region.change().allocations;
    }
    times.sort_by(f64::total_cmp);
    Measured {
        ns: times[RUNS / 2],
        allocs: allocs as f64 / (FRAMES * RUNS) as f64,
    }
}

fn leg(codec: AudioCodec) -> Negotiated {
    Negotiated {
        codec,
        payload_type: codec.static_payload_type().unwrap_or(PayloadType(111)),
        receive_event_pt: Some(PayloadType(101)),
        send_event_pt: Some(PayloadType(101)),
        ptime_ms: 20,
        direction: Direction::SendRecv,
        remote: "127.0.0.1:40000".parse().unwrap(),
    }
}

fn at(t0: Instant, frame: usize) -> Instant {
    t0 + Duration::from_millis(20 * frame as u64)
}

/// The phone's RTP for a tone, and the room's Opus packets for another, prepared up front.
fn inputs(codec: AudioCodec, frames: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let rate = codec.pcm_rate();
    let mut phone = PhoneSender::new(&leg(codec), &LegSettings::default(), Ssrc(1), 0, 0).unwrap();
    let mut member = OpusEncoder::new(rate, EncoderSettings::default()).unwrap();
    let (mut speech, mut voice) = (Sine::new(440.0, rate, 8000), Sine::new(900.0, rate, 8000));
    let mut rtp = Vec::with_capacity(frames);
    let mut opus = Vec::with_capacity(frames);
    for _ in 0..frames {
        phone.push_frame(&speech.frame()).unwrap();
        rtp.push(phone.poll_packet().unwrap().to_vec());
        opus.push(member.encode(&voice.frame()).unwrap().to_vec());
    }
    (rtp, opus)
}

/// Bare libopus at the settings our encoder uses: the cost no pipeline can avoid.
fn floor(rate: u32, opus: &[Vec<u8>]) -> Measured {
    let sample_rate = SampleRate::try_from(rate as i32).unwrap();
    let mut enc = Encoder::new(sample_rate, Channels::Mono, Application::Voip).unwrap();
    let settings = EncoderSettings::default();
    enc.set_complexity(settings.complexity).unwrap();
    enc.set_bitrate(Bitrate::BitsPerSecond(default_bitrate(rate)))
        .unwrap();
    enc.set_dtx(false).unwrap();
    enc.set_inband_fec(settings.inband_fec).unwrap();
    enc.set_packet_loss_perc(settings.expected_loss_percent)
        .unwrap();
    let mut dec = Decoder::new(sample_rate, Channels::Mono).unwrap();
    // The same tone the phone sends in the pipeline runs, frame after frame.
    let mut tone = Sine::new(440.0, rate, 8000);
    let pcm: Vec<Vec<i16>> = (0..500).map(|_| tone.frame()).collect();
    let mut packet = [0u8; 1500];
    let mut out = vec![0i16; samples_per_frame(rate)];
    measure(|i| {
        black_box(enc.encode(&pcm[i % pcm.len()], &mut packet).unwrap());
        let input = &opus[i % opus.len()];
        let input = audiopus::packet::Packet::try_from(&input[..]).unwrap();
        let output = (&mut out[..]).try_into().unwrap();
        black_box(dec.decode(Some(input), output, false).unwrap());
    })
}

/// Phone RTP → jitter buffer → decode → 20 ms frame → Opus for the room.
fn phone_to_room(codec: AudioCodec, rtp: &[Vec<u8>]) -> Measured {
    let t0 = Instant::now();
    let settings = LegSettings::default();
    let mut receiver = PhoneReceiver::new(t0, &leg(codec), &settings).unwrap();
    let mut to_room = OpusEncoder::new(codec.pcm_rate(), settings.opus).unwrap();
    let source = "127.0.0.1:40000".parse().unwrap();
    let mut seq_rtp = rtp.to_vec();
    measure(|i| {
        // Renumber so the stream runs on forever without wrapping back into the past.
        let packet = &mut seq_rtp[i % rtp.len()];
        packet[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        let ts = (i as u32).wrapping_mul(codec.rtp_clock() / 50);
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        let now = at(t0, i);
        receiver.handle_rtp(now, source, packet);
        let frame = receiver.poll_frame(now);
        black_box(to_room.encode(frame).unwrap());
    })
}

/// Room Opus → mixer (jitter buffer, decode) → encode → RTP for the phone.
fn room_to_phone(codec: AudioCodec, tracks: usize, opus: &[Vec<u8>]) -> Measured {
    let t0 = Instant::now();
    let settings = LegSettings::default();
    let mut mixer = Mixer::new(codec.pcm_rate(), settings.jitter);
    let keys: Vec<String> = (0..tracks).map(|t| format!("TR_{t}")).collect();
    for key in &keys {
        mixer.add_track(key).unwrap();
    }
    let mut sender = PhoneSender::new(&leg(codec), &settings, Ssrc(2), 0, 0).unwrap();
    measure(|i| {
        let now = at(t0, i);
        for key in &keys {
            mixer.push(now, key, i as u64, (i * 960) as u32, &opus[i % opus.len()]);
        }
        sender.push_frame(mixer.mix(now)).unwrap();
        while let Some(p) = sender.poll_packet() {
            black_box(p);
        }
    })
}

fn jitter_push_pop() -> Measured {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(
        8000,
        20,
        JitterLimits {
            min_ms: 20,
            max_ms: 120,
        },
    );
    let payload = [0x55u8; 160];
    measure(|i| {
        let now = at(t0, i);
        jb.push(now, i as u64, (i * 160) as u32, false, &payload);
        if let Pop::Packet { payload, .. } = jb.pop(now) {
            black_box(payload);
        }
    })
}

fn rtp_parse(rtp: &[Vec<u8>]) -> Measured {
    measure(|i| {
        black_box(RtpPacket::parse(black_box(&rtp[i % rtp.len()])).unwrap());
    })
}

fn row(name: &str, m: &Measured) {
    println!("{name:<44} {:>9.0} ns {:>8.2}", m.ns, m.allocs);
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent; only time a real bench run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("pipeline bench: skipped (run with cargo bench)");
        return;
    }
    println!("{:<44} {:>12} {:>8}", "per 20 ms frame", "time", "allocs");
    let mut ratios = Vec::new();
    for (codec, label) in [
        (AudioCodec::Pcmu, "G.711 µ-law, 8 kHz"),
        (AudioCodec::G722, "G.722, 16 kHz"),
    ] {
        let (rtp, opus) = inputs(codec, 500);
        let inbound = phone_to_room(codec, &rtp);
        let outbound = room_to_phone(codec, 1, &opus);
        let bare = floor(codec.pcm_rate(), &opus);
        row(&format!("{label}: phone RTP → room Opus (c5)"), &inbound);
        row(&format!("{label}: room Opus → phone RTP"), &outbound);
        row(&format!("{label}: codec floor (libopus enc+dec)"), &bare);
        let ratio = (inbound.ns + outbound.ns) / bare.ns;
        println!("{label}: pipeline/floor ratio {ratio:.3}");
        ratios.push(ratio);
    }
    let (_, opus) = inputs(AudioCodec::Pcmu, 500);
    for tracks in [1, 3, 8] {
        row(
            &format!("mixer, {tracks} track(s), 8 kHz (incl. decode)"),
            &room_to_phone(AudioCodec::Pcmu, tracks, &opus),
        );
    }
    row("jitter buffer push + pop", &jitter_push_pop());
    let pcm = Sine::new(440.0, 16_000, 8000).frame();
    let (mut g722_enc, mut g722_dec) = (G722Encoder::new(), G722Decoder::new());
    let (mut coded, mut decoded) = ([0u8; 160], [0i16; 320]);
    row(
        "G.722 encode",
        &measure(|_| {
            black_box(g722_enc.encode(&pcm, &mut coded));
        }),
    );
    row(
        "G.722 decode",
        &measure(|_| {
            black_box(g722_dec.decode(&coded, &mut decoded));
        }),
    );
    let pcm8 = Sine::new(440.0, 8_000, 8000).frame();
    let mut ulaw = [0u8; 160];
    row(
        "G.711 encode + decode",
        &measure(|_| {
            Law::Mu.encode(&pcm8, &mut ulaw);
            black_box(Law::Mu.decode(&ulaw, &mut decoded[..160]));
        }),
    );
    let (rtp, _) = inputs(AudioCodec::Pcmu, 500);
    row("RTP parse (per packet)", &rtp_parse(&rtp));
}
