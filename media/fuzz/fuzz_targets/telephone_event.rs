//! RFC 4733 telephone-events: `EventBlock` parse/serialize round trip, and a `DtmfReceiver`
//! fed a packet sequence carved from the input.
//!
//! Input layout for the receiver: bytes 0..4 are the first RTP timestamp (big-endian); the
//! rest is a sequence of 5-byte records, 1 control byte then a 4-byte payload. The control
//! byte's low 3 bits choose how the timestamp moves (same, + a small step, + the last
//! duration so a long event continues, a jump, a step back) and bit 3 lets a quiet gap of
//! 400 ms pass before the packet so that the lost-end timeout fires.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sipbridge_media::dtmf::{DtmfReceiver, EventBlock, KeyPress, key_for_code};

const CLOCK: u32 = 8000;
const TICK: Duration = Duration::from_millis(20);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn check(key: &KeyPress) {
    assert_eq!(key_for_code(key.code), Some(key.key));
    // Durations are built from at most 2^32 segments of 16-bit ticks: never absurd for
    // the packet counts a fuzz input can hold.
    assert!(key.duration <= Duration::from_secs(u64::from(u16::MAX) * 4096));
}

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = EventBlock::parse(data) {
        let bytes = block.to_bytes();
        // Bit 6 of the second octet is reserved: to_bytes writes it as zero.
        assert_eq!(bytes, [data[0], data[1] & 0xbf, data[2], data[3]]);
        assert_eq!(EventBlock::parse(&bytes), Ok(block));
        assert!(block.volume <= 0x3f);
    } else {
        assert!(data.len() < 4);
        return;
    }

    let mut receiver = DtmfReceiver::new(CLOCK);
    let mut now = base();
    let mut ts = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let mut last_duration = 0u16;
    let mut presses = 0usize;
    let mut records = 0usize;
    for record in data[4..].chunks(5) {
        let (&control, payload) = record.split_first().expect("chunks are never empty");
        records += 1;
        now += TICK;
        if control & 0x08 != 0 {
            now += Duration::from_millis(400);
        }
        ts = match control & 0x07 {
            0 | 1 => ts,
            2 => ts.wrapping_add(160),
            3 => ts.wrapping_add(u32::from(last_duration)),
            4 => ts.wrapping_sub(160),
            5 => ts.wrapping_add(u32::from(control) << 8),
            _ => ts ^ u32::from(control) << 24,
        };
        let mut emitted = 0;
        let parsed = receiver.on_packet(now, ts, payload, |k| {
            check(&k);
            emitted += 1;
        });
        assert!(emitted <= 2, "at most two presses per packet");
        match EventBlock::parse(payload) {
            Ok(block) => {
                assert!(parsed.is_ok());
                last_duration = block.duration;
            }
            Err(_) => assert!(parsed.is_err()),
        }
        presses += emitted;
        if let Some(deadline) = receiver.poll_timeout() {
            assert!(deadline + TICK + Duration::from_millis(400) > now);
        }
        if let Some(k) = receiver.poll(now) {
            check(&k);
            presses += 1;
        }
    }
    // Eventually every started event is reported, and never twice as many as packets.
    now += Duration::from_secs(1);
    if let Some(k) = receiver.poll(now) {
        check(&k);
        presses += 1;
    }
    assert!(receiver.poll_timeout().is_none());
    assert!(presses <= 2 * records);
});
