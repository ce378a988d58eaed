//! What the phone receiver tells the call, and what it refuses: latching, foreign sources,
//! SSRC changes and sequence restarts, the two media timeouts and hold, and junk input.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipbridge_media::analysis::{rms, tone_frequency, tone_purity};
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::{Latching, LegSettings, MediaEvent, PhoneReceiver, PhoneSender};
use sipbridge_media::rtp::Ssrc;
use sipbridge_media::tone::Sine;
use support::negotiated;

fn events(receiver: &mut PhoneReceiver) -> Vec<MediaEvent> {
    std::iter::from_fn(|| receiver.poll_event()).collect()
}

#[test]
fn latches_onto_a_natted_phone_and_ignores_other_sources() {
    let mut leg = negotiated(AudioCodec::Pcmu, 20);
    leg.remote = "192.168.1.20:4000".parse().unwrap(); // what the phone behind NAT put in SDP
    let nat: SocketAddr = "198.51.100.7:31000".parse().unwrap();
    let stranger: SocketAddr = "203.0.113.66:5004".parse().unwrap();
    let t0 = Instant::now();
    let mut receiver = PhoneReceiver::new(t0, &leg, &LegSettings::default()).unwrap();
    let mut phone = PhoneSender::new(&leg, &LegSettings::default(), Ssrc(1), 0, 0).unwrap();
    let mut intruder = PhoneSender::new(&leg, &LegSettings::default(), Ssrc(2), 0, 0).unwrap();
    assert_eq!(receiver.destination(), leg.remote);
    let mut tone = Sine::new(500.0, 8000, 8000);
    let mut loud = Sine::new(1500.0, 8000, 8000);
    let mut heard = Vec::new();
    for tick in 0..100u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        phone.push_frame(&tone.frame()).unwrap();
        receiver.handle_rtp(now, nat, phone.poll_packet().unwrap());
        intruder.push_frame(&loud.frame()).unwrap();
        receiver.handle_rtp(now, stranger, intruder.poll_packet().unwrap());
        heard.extend_from_slice(receiver.poll_frame(now));
    }
    assert_eq!(events(&mut receiver), [MediaEvent::Latched(nat)]);
    assert_eq!(receiver.destination(), nat);
    assert_eq!(receiver.stats().foreign_source, 100);
    let hz = tone_frequency(&heard[4000..], 8000).unwrap();
    assert!((hz - 500.0).abs() < 5.0, "only the phone is heard: {hz} Hz");

    let mut public = negotiated(AudioCodec::Pcmu, 20);
    public.remote = "203.0.113.10:4000".parse().unwrap();
    let strict = LegSettings {
        latching: Latching::Never,
        ..LegSettings::default()
    };
    let mut receiver = PhoneReceiver::new(t0, &public, &strict).unwrap();
    phone.push_frame(&tone.frame()).unwrap();
    receiver.handle_rtp(t0, nat, phone.poll_packet().unwrap());
    assert_eq!(events(&mut receiver), []);
    assert_eq!(receiver.destination(), public.remote);
}

#[test]
fn a_new_ssrc_or_a_sequence_restart_keeps_audio_flowing() {
    let leg = negotiated(AudioCodec::Pcma, 20);
    let t0 = Instant::now();
    let mut receiver = PhoneReceiver::new(t0, &leg, &LegSettings::default()).unwrap();
    let mut first = PhoneSender::new(&leg, &LegSettings::default(), Ssrc(10), 100, 0).unwrap();
    // After a transfer the carrier's media comes from a new stream, numbered anywhere.
    let mut second =
        PhoneSender::new(&leg, &LegSettings::default(), Ssrc(20), 40_000, 9_999).unwrap();
    let mut tone = Sine::new(800.0, 8000, 8000);
    let mut heard = Vec::new();
    for tick in 0..150u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        let sender = if tick < 75 { &mut first } else { &mut second };
        sender.push_frame(&tone.frame()).unwrap();
        let packet = sender.poll_packet().unwrap().to_vec();
        receiver.handle_rtp(now, support::phone(), &packet);
        heard.extend_from_slice(receiver.poll_frame(now));
    }
    assert_eq!(events(&mut receiver), [MediaEvent::SourceChanged(Ssrc(20))]);
    let after = &heard[(80 * 160)..];
    let hz = tone_frequency(after, 8000).unwrap();
    assert!((hz - 800.0).abs() < 5.0, "{hz}");
    let stats = receiver.jitter_stats();
    assert!(stats.underruns <= 1 && stats.late == 0, "{stats:?}");
}

/// Silence suppression, or a PBX switching what it plays, restarts a stream's RTP time at a
/// talkspurt: same SSRC, the next sequence number, the marker bit, and a timestamp seconds
/// ahead. Playout follows sequence numbers, so the jump must insert no silence: whether the
/// phone really paused for those 2 s or not, the new talkspurt plays as soon as it arrives,
/// every frame of it, with at most a frame or two concealed.
#[test]
fn a_timestamp_jump_at_a_talkspurt_inserts_no_silence() {
    const JUMP: u32 = 2 * 8000;
    const TALKSPURT: usize = 100;
    for pause in [0, 100] {
        let leg = negotiated(AudioCodec::Pcmu, 20);
        let settings = LegSettings::default();
        let t0 = Instant::now();
        let mut receiver = PhoneReceiver::new(t0, &leg, &settings).unwrap();
        let mut phone = PhoneSender::new(&leg, &settings, Ssrc(7), 500, 80_000).unwrap();
        // A different tone after the jump tells the talkspurts apart in what is heard.
        let mut first = Sine::new(600.0, 8000, 8000);
        let mut second = Sine::new(1000.0, 8000, 8000);
        let resume = TALKSPURT + pause; // the tick the first packet after the jump arrives
        let (mut heard, mut stats) = (Vec::new(), Vec::new());
        for tick in 0..resume + TALKSPURT + 10 {
            let now = t0 + Duration::from_millis(tick as u64 * 20);
            let pcm = if tick < TALKSPURT {
                Some(first.frame())
            } else if (resume..resume + TALKSPURT).contains(&tick) {
                Some(second.frame())
            } else {
                None
            };
            if let Some(pcm) = pcm {
                phone.push_frame(&pcm).unwrap();
                let mut packet = phone.poll_packet().unwrap().to_vec();
                if tick >= resume {
                    let timestamp = u32::from_be_bytes(packet[4..8].try_into().unwrap());
                    packet[4..8].copy_from_slice(&timestamp.wrapping_add(JUMP).to_be_bytes());
                    packet[1] |= u8::from(tick == resume) << 7;
                }
                receiver.handle_rtp(now, support::phone(), &packet);
            }
            heard.push(receiver.poll_frame(now).to_vec());
            stats.push(receiver.jitter_stats());
        }
        let is_second = |f: &Vec<i16>| tone_purity(f, 8000, 1000.0) > 0.9 && rms(f) > 4000.0;
        let start = heard.iter().position(is_second).unwrap();
        let (before, after) = (stats[start - 1], stats[start + TALKSPURT - 1]);
        let concealed = (after.lost + after.stretched + after.underruns)
            - (before.lost + before.stretched + before.underruns);
        println!(
            "pause {} ms, then a 2 s jump: heard {} ms after it arrived, frames concealed in it: {concealed}",
            pause * 20,
            (start - resume) * 20
        );
        assert!(
            start <= resume + 2,
            "pause {pause}: started at {start}, arrived at {resume}"
        );
        // Every frame of the talkspurt is heard, back to back, nearly all from its packets.
        assert!(
            heard[start..start + TALKSPURT].iter().all(is_second),
            "pause {pause}"
        );
        assert!(concealed <= 2, "pause {pause}: {before:?} → {after:?}");
        assert!(after.played - before.played >= TALKSPURT as u64 - 2);
        if pause == 0 {
            // Without a pause nothing is silent, from the first talkspurt into the second.
            assert!(heard[10..start].iter().all(|f| rms(f) > 4000.0));
        }
    }
}

#[test]
fn media_timeouts_initial_running_and_on_hold() {
    let leg = negotiated(AudioCodec::Pcmu, 20);
    let settings = LegSettings {
        media_timeout: Duration::from_secs(15),
        media_timeout_initial: Duration::from_secs(30),
        ..LegSettings::default()
    };
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // Nothing ever arrives: the initial timeout.
    let mut silent = PhoneReceiver::new(t0, &leg, &settings).unwrap();
    assert_eq!(silent.poll_timeout(), Some(t0 + s(30)));
    silent.handle_timeout(t0 + s(29));
    assert_eq!(events(&mut silent), []);
    silent.handle_timeout(t0 + s(30));
    assert_eq!(
        events(&mut silent),
        [MediaEvent::Timeout {
            before_first_packet: true
        }]
    );

    // RTP flows, then stops: the running timeout, counted from the last packet.
    let mut receiver = PhoneReceiver::new(t0, &leg, &settings).unwrap();
    let mut phone = PhoneSender::new(&leg, &settings, Ssrc(1), 0, 0).unwrap();
    phone.push_frame(&[0; 160]).unwrap();
    receiver.handle_rtp(t0 + s(2), support::phone(), phone.poll_packet().unwrap());
    let _ = events(&mut receiver);
    assert_eq!(receiver.poll_timeout(), Some(t0 + s(17)));
    // On hold the phone sends nothing and that is fine.
    receiver.set_receiving(t0 + s(5), false);
    assert_eq!(receiver.poll_timeout(), None);
    receiver.handle_timeout(t0 + s(60));
    assert_eq!(events(&mut receiver), []);
    receiver.set_receiving(t0 + s(60), true);
    receiver.handle_timeout(t0 + s(75));
    assert_eq!(
        events(&mut receiver),
        [MediaEvent::Timeout {
            before_first_packet: false
        }]
    );
}

#[test]
fn junk_is_counted_never_fatal() {
    let leg = negotiated(AudioCodec::Pcmu, 20);
    let t0 = Instant::now();
    let mut receiver = PhoneReceiver::new(t0, &leg, &LegSettings::default()).unwrap();
    let from = support::phone();
    let comfort_noise = [0x80, 13, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 40];
    let rtcp_sr = [0x80, 200, 0, 6, 0, 0, 0, 1];
    let truncated = [0x80, 0, 0, 1, 0, 0];
    let bad_version = [0x40u8; 20];
    let lying_extension = [
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0xff, 0xff,
    ];
    for datagram in [
        &comfort_noise[..],
        &rtcp_sr,
        &truncated,
        &bad_version,
        &lying_extension,
        &[],
    ] {
        receiver.handle_rtp(t0, from, datagram);
    }
    let frame = receiver.poll_frame(t0);
    assert_eq!(frame.len(), 160);
    let stats = receiver.stats();
    assert_eq!(
        (
            stats.unknown_payload,
            stats.rtcp_on_rtp_port,
            stats.malformed
        ),
        (1, 1, 4)
    );
}
