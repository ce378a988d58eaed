//! Shared by the media integration tests: a negotiated SIP leg and captured RTP.

#![allow(dead_code)] // each test file uses its own part

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::{Direction, Negotiated};
use sipbridge_media::rtp::PayloadType;

pub(crate) const PHONE: &str = "127.0.0.1:40000";

pub(crate) fn phone() -> SocketAddr {
    PHONE.parse().unwrap()
}

/// A SIP leg as SDP negotiation would give it, with telephone-event on PT 101 both ways.
pub(crate) fn negotiated(codec: AudioCodec, ptime_ms: u32) -> Negotiated {
    Negotiated {
        codec,
        payload_type: codec.static_payload_type().unwrap_or(PayloadType(111)),
        receive_event_pt: Some(PayloadType(101)),
        send_event_pt: Some(PayloadType(101)),
        ptime_ms,
        direction: Direction::SendRecv,
        remote: phone(),
    }
}

/// A capture shipped by Debian's `sip-tester` (SIPp) package, which the test bed installs.
/// Outside CI a missing file skips the test with a printed reason; in CI it fails.
pub(crate) fn sip_tester_capture(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/share/sip-tester").join(name);
    if path.exists() {
        return Some(path);
    }
    let reason = format!(
        "{} missing: install Debian's sip-tester (tests/bed/setup does)",
        path.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{reason}");
    }
    println!("SKIPPED: {reason}");
    None
}

/// The UDP payloads of an Ethernet/IPv4 pcap file, with capture times relative to the first.
pub(crate) fn udp_payloads(path: &PathBuf) -> Vec<(Duration, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    let u32_at = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "little-endian microsecond pcap");
    assert_eq!(u32_at(20), 1, "Ethernet link type");
    let mut out = Vec::new();
    let mut offset = 24;
    let mut first = None;
    while offset + 16 <= data.len() {
        let time = Duration::from_secs(u64::from(u32_at(offset)))
            + Duration::from_micros(u64::from(u32_at(offset + 4)));
        let len = u32_at(offset + 8) as usize;
        let frame = &data[offset + 16..offset + 16 + len];
        offset += 16 + len;
        let ip = &frame[14..];
        let header = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 {
            continue;
        }
        let first = *first.get_or_insert(time);
        out.push((time - first, ip[header + 8..].to_vec()));
    }
    out
}
