//! The receiving half of a negotiated PCMU leg (`leg::PhoneReceiver`): latching, RTP
//! parsing, SSRC/sequence tracking, telephone-events, jitter buffer, decoding and
//! concealment, all fed from one input.
//!
//! Input layout: a sequence of datagrams, each a 2-byte big-endian length then that many
//! bytes (the last one takes what is left). Bit 15 of the length sends the datagram from
//! a second address (latching and foreign sources); bit 14 holds the clock for that
//! datagram (a burst) instead of advancing it 20 ms. The length proper is bits 0–13.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::{Direction, LegSettings, MediaEvent, Negotiated, PhoneReceiver};
use sipbridge_media::rtp::PayloadType;
use sipbridge_media::samples_per_frame;

const TICK: Duration = Duration::from_millis(20);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn phone() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn other() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2], 40002))
}

/// As SDP negotiation gives it (media/tests/support `negotiated(AudioCodec::Pcmu, 20)`).
fn negotiated() -> Negotiated {
    Negotiated {
        codec: AudioCodec::Pcmu,
        payload_type: AudioCodec::Pcmu
            .static_payload_type()
            .unwrap_or(PayloadType(0)),
        receive_event_pt: Some(PayloadType(101)),
        send_event_pt: Some(PayloadType(101)),
        ptime_ms: 20,
        direction: Direction::SendRecv,
        remote: phone(),
    }
}

fn drain(receiver: &mut PhoneReceiver) {
    let mut n = 0;
    while let Some(event) = receiver.poll_event() {
        n += 1;
        assert!(n <= 64, "the event queue is bounded");
        if let MediaEvent::Latched(address) = event {
            assert!(address == phone() || address == other());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = base();
    let mut receiver =
        PhoneReceiver::new(now, &negotiated(), &LegSettings::default()).expect("a PCMU receiver");
    let frame_len = samples_per_frame(8000);
    assert_eq!(frame_len, 160);

    let mut rest = data;
    while rest.len() >= 2 {
        let prefix = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        let len = usize::from(prefix & 0x3fff).min(rest.len());
        let (datagram, tail) = rest.split_at(len);
        rest = tail;
        let source = if prefix & 0x8000 != 0 {
            other()
        } else {
            phone()
        };
        if prefix & 0x4000 == 0 {
            now += TICK;
        }
        receiver.handle_rtp(now, source, datagram);
        drain(&mut receiver);
        if receiver.poll_timeout().is_some_and(|t| t <= now) {
            receiver.handle_timeout(now);
        }
        let frame = receiver.poll_frame(now);
        assert_eq!(frame.len(), frame_len, "a frame is always 20 ms");
        drain(&mut receiver);
    }

    // Let the buffer play out, the DTMF timeout and the media timeout fire.
    for _ in 0..20 {
        now += TICK;
        receiver.handle_timeout(now);
        let frame = receiver.poll_frame(now);
        assert_eq!(frame.len(), frame_len, "a frame is always 20 ms");
        drain(&mut receiver);
    }
    std::hint::black_box((
        receiver.stats(),
        receiver.jitter_stats(),
        receiver.undecodable(),
        receiver.report(),
        receiver.destination(),
    ));
});
