//! Compound RTCP parsing (`rtcp::parse_compound`) and lazy report-block decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipbridge_media::rtcp::{RtcpPacket, parse_compound};

fuzz_target!(|data: &[u8]| {
    let mut sum = 0u64;
    let mut packets = 0usize;
    for packet in parse_compound(data) {
        packets += 1;
        // Every packet takes at least 4 bytes, so the iterator must end.
        assert!(packets <= data.len() / 4 + 1);
        let Ok(packet) = packet else {
            continue;
        };
        let blocks = match packet {
            RtcpPacket::SenderReport { ssrc, info, blocks } => {
                sum = sum
                    .wrapping_add(u64::from(ssrc.0))
                    .wrapping_add(info.ntp.0)
                    .wrapping_add(u64::from(info.ntp.middle()))
                    .wrapping_add(u64::from(info.rtp_timestamp))
                    .wrapping_add(u64::from(info.packet_count))
                    .wrapping_add(u64::from(info.octet_count));
                Some(blocks)
            }
            RtcpPacket::ReceiverReport { ssrc, blocks } => {
                sum = sum.wrapping_add(u64::from(ssrc.0));
                Some(blocks)
            }
            RtcpPacket::Bye { ssrcs } => {
                sum = sum.wrapping_add(ssrcs.len() as u64);
                None
            }
            RtcpPacket::Other { packet_type } => {
                sum = sum.wrapping_add(u64::from(packet_type));
                None
            }
        };
        for block in blocks.iter().flat_map(|b| b.iter()) {
            // The cumulative loss is a sign-extended 24-bit field.
            assert!((-(1 << 23)..(1 << 23)).contains(&block.data.cumulative_lost));
            sum = sum
                .wrapping_add(u64::from(block.ssrc.0))
                .wrapping_add(u64::from(block.data.fraction_lost))
                .wrapping_add(block.data.cumulative_lost as u64)
                .wrapping_add(u64::from(block.data.extended_highest_seq))
                .wrapping_add(u64::from(block.data.jitter))
                .wrapping_add(u64::from(block.last_sr))
                .wrapping_add(u64::from(block.delay_since_last_sr));
        }
    }
    std::hint::black_box(sum);
});
