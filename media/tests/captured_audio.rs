//! Real input: SIPp's A-law capture (30 ms packets from a real call) through the phone
//! receiver must come out as exactly the audio in the packets, cut into 20 ms frames.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Instant;

use sipbridge_media::analysis::rms;
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::g711::Law;
use sipbridge_media::leg::{LegSettings, PhoneReceiver};
use sipbridge_media::rtp::RtpPacket;
use support::{negotiated, phone};

#[test]
fn a_captured_alaw_call_plays_out_sample_exact() {
    let Some(path) = support::sip_tester_capture("g711a.pcap") else {
        return;
    };
    let packets = support::udp_payloads(&path);
    let mut expected = Vec::new();
    for (_, datagram) in &packets {
        let payload = RtpPacket::parse(datagram).unwrap().payload;
        let mut pcm = vec![0i16; payload.len()];
        Law::A.decode(payload, &mut pcm);
        expected.extend(pcm);
    }
    let t0 = Instant::now();
    let mut receiver = PhoneReceiver::new(
        t0,
        &negotiated(AudioCodec::Pcma, 30),
        &LegSettings::default(),
    )
    .unwrap();
    let mut played = Vec::new();
    let mut next_packet = 0;
    let end = packets.last().unwrap().0 + std::time::Duration::from_millis(200);
    let mut tick = std::time::Duration::ZERO;
    while tick < end {
        while let Some((at, datagram)) = packets.get(next_packet) {
            if *at > tick {
                break;
            }
            receiver.handle_rtp(t0 + *at, phone(), datagram);
            next_packet += 1;
        }
        played.extend_from_slice(receiver.poll_frame(t0 + tick));
        tick += std::time::Duration::from_millis(20);
    }
    let stats = receiver.jitter_stats();
    // Playout starts after the jitter buffer filled: find where the first 20 ms of speech
    // (the capture opens with silence, which would match anywhere) were played.
    let speech = (0..expected.len() - 160)
        .step_by(160)
        .find(|&i| rms(&expected[i..i + 160]) > 300.0)
        .unwrap();
    let found = played
        .windows(160)
        .position(|w| w == &expected[speech..speech + 160])
        .expect("the speech was played");
    let offset = found - speech;
    // The first 10 ms at most fade in from the silence played while the buffer filled
    // (the concealment cross-fade); from there on every sample must be the capture's.
    let fade = 80;
    let matched = fade
        + expected[fade..]
            .iter()
            .zip(&played[offset + fade..])
            .take_while(|(a, b)| a == b)
            .count();
    println!(
        "{} packets of {} bytes, {:.1} s: playout {} ms behind, {matched}/{} samples identical, rms {:.0}, {stats:?}",
        packets.len(),
        packets[0].1.len(),
        expected.len() as f64 / 8000.0,
        offset / 8,
        expected.len(),
        rms(&expected)
    );
    assert_eq!(receiver.stats().malformed + receiver.undecodable(), 0);
    assert!(
        rms(&expected) > 100.0,
        "the capture holds speech, not silence"
    );
    assert_eq!(
        matched,
        expected.len(),
        "every captured sample played, in order, unaltered"
    );
}
