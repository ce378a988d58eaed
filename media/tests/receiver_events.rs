//! What the phone receiver tells the call, and what it refuses: latching, foreign sources,
//! SSRC changes and sequence restarts, the two media timeouts and hold, and junk input.

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipbridge_media::analysis::tone_frequency;
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
