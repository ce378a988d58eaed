//! RTP packet parsing (`RtpPacket::parse`) and both writers' round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_media::rtp::{RtpHeader, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    // Touch every field so that nothing the parser returns is left unread.
    let mut sum = u64::from(packet.marker)
        + u64::from(packet.payload_type.0)
        + u64::from(packet.sequence)
        + u64::from(packet.timestamp)
        + u64::from(packet.ssrc.0);
    assert!(packet.payload_type.0 < 128);
    for csrc in packet.csrcs() {
        sum = sum.wrapping_add(u64::from(csrc.0));
    }
    if let Some(ext) = packet.extension {
        assert_eq!(ext.data.len() % 4, 0);
        sum = sum.wrapping_add(u64::from(ext.profile));
        sum = sum.wrapping_add(ext.data.iter().map(|&b| u64::from(b)).sum::<u64>());
    }
    sum = sum.wrapping_add(packet.payload.iter().map(|&b| u64::from(b)).sum::<u64>());
    std::hint::black_box(sum);

    // What we write must parse back to the same header and payload.
    let header = RtpHeader {
        marker: packet.marker,
        payload_type: packet.payload_type,
        sequence: packet.sequence,
        timestamp: packet.timestamp,
        ssrc: packet.ssrc,
    };
    let mut out = Vec::new();
    header.write(packet.payload, &mut out);
    assert_eq!(out.len(), RtpHeader::LEN + packet.payload.len());
    let again = RtpPacket::parse(&out).expect("a packet we wrote must parse");
    assert_eq!(again.marker, packet.marker);
    assert_eq!(again.payload_type, packet.payload_type);
    assert_eq!(again.sequence, packet.sequence);
    assert_eq!(again.timestamp, packet.timestamp);
    assert_eq!(again.ssrc, packet.ssrc);
    assert_eq!(again.csrcs().count(), 0);
    assert_eq!(again.extension, None);
    assert_eq!(again.payload, packet.payload);

    // The whole packet written back parses to the same packet.
    packet.write(&mut out);
    let full = RtpPacket::parse(&out).expect("a packet we wrote must parse");
    assert_eq!(full, packet);
});
