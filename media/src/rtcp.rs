//! RTCP sender/receiver reports (RFC 3550 §6.4), SDES CNAME (§6.5) and BYE (§6.6):
//! parsing of compound packets and writing of the compound report we send.

use crate::Error;
use crate::rtp::{ReportBlockData, Ssrc};

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const REPORT_BLOCK_LEN: usize = 24;

/// An NTP timestamp (RFC 3550 §4): seconds since 1900 and a binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Seconds from 1900 to the Unix epoch.
    const UNIX_OFFSET: u64 = 2_208_988_800;

    /// The NTP time of a wall-clock reading given by the caller (this crate reads no clock).
    pub fn from_unix(since_epoch: std::time::Duration) -> Self {
        let secs = since_epoch.as_secs() + Self::UNIX_OFFSET;
        let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
        Self(secs << 32 | frac)
    }

    /// The middle 32 bits, as carried in LSR (§6.4.1).
    pub fn middle(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// The sender-information part of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: Ssrc,
    pub data: ReportBlockData,
    /// Middle bits of the NTP time of the last SR from that source, 0 if none.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        ssrc: Ssrc,
        info: SenderInfo,
        blocks: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: Ssrc,
        blocks: ReportBlocks<'a>,
    },
    /// The sources leaving the session.
    Bye { ssrcs: &'a [u8] },
    /// SDES, APP, feedback…: valid, not needed by a SIP leg.
    Other { packet_type: u8 },
}

/// The report blocks of an SR or RR, decoded lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

impl ReportBlocks<'_> {
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + '_ {
        self.0.chunks_exact(REPORT_BLOCK_LEN).map(|b| {
            let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            // The cumulative loss is a 24-bit two's complement number.
            let lost = ((word(4) << 8) as i32) >> 8;
            ReportBlock {
                ssrc: Ssrc(word(0)),
                data: ReportBlockData {
                    fraction_lost: b[4],
                    cumulative_lost: lost,
                    extended_highest_seq: word(8),
                    jitter: word(12),
                },
                last_sr: word(16),
                delay_since_last_sr: word(20),
            }
        })
    }
}

/// Iterates the packets of a compound RTCP datagram; stops at the first malformed one.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

/// Parses a compound RTCP datagram lazily.
pub fn parse_compound(datagram: &[u8]) -> Compound<'_> {
    Compound { rest: datagram }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<RtcpPacket<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.split_one();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl<'a> Compound<'a> {
    fn split_one(&mut self) -> Result<RtcpPacket<'a>, Error> {
        let head = self.rest.get(..4).ok_or(Error::Truncated("RTCP header"))?;
        let version = head[0] >> 6;
        if version != 2 {
            return Err(Error::Version(version));
        }
        let count = usize::from(head[0] & 0x1f);
        let packet_type = head[1];
        let words = u16::from_be_bytes([head[2], head[3]]);
        let len = (usize::from(words) + 1) * 4;
        if len > self.rest.len() {
            return Err(Error::RtcpLength {
                words,
                remaining: self.rest.len(),
            });
        }
        let (packet, rest) = self.rest.split_at(len);
        self.rest = rest;
        let mut body = &packet[4..];
        if head[0] & 0x20 != 0 {
            // Padding is only legal on the last packet, but its count is all we need.
            let pad = usize::from(*body.last().ok_or(Error::Padding(0))?);
            if pad == 0 || pad > body.len() {
                return Err(Error::Padding(pad as u8));
            }
            body = &body[..body.len() - pad];
        }
        let word = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match packet_type {
            PT_SR => {
                let fixed = body.get(..24).ok_or(Error::Truncated("sender report"))?;
                let blocks = body
                    .get(24..24 + count * REPORT_BLOCK_LEN)
                    .ok_or(Error::Truncated("report blocks"))?;
                Ok(RtcpPacket::SenderReport {
                    ssrc: Ssrc(word(fixed, 0)),
                    info: SenderInfo {
                        ntp: NtpTime(u64::from(word(fixed, 4)) << 32 | u64::from(word(fixed, 8))),
                        rtp_timestamp: word(fixed, 12),
                        packet_count: word(fixed, 16),
                        octet_count: word(fixed, 20),
                    },
                    blocks: ReportBlocks(blocks),
                })
            }
            PT_RR => {
                let fixed = body.get(..4).ok_or(Error::Truncated("receiver report"))?;
                let blocks = body
                    .get(4..4 + count * REPORT_BLOCK_LEN)
                    .ok_or(Error::Truncated("report blocks"))?;
                Ok(RtcpPacket::ReceiverReport {
                    ssrc: Ssrc(word(fixed, 0)),
                    blocks: ReportBlocks(blocks),
                })
            }
            PT_BYE => {
                let ssrcs = body.get(..count * 4).ok_or(Error::Truncated("BYE"))?;
                Ok(RtcpPacket::Bye { ssrcs })
            }
            other => Ok(RtcpPacket::Other { packet_type: other }),
        }
    }
}

/// Writes our compound report: an SR when we have sent media since the last report (else
/// an RR), with at most one report block, then the SDES CNAME every compound must carry
/// (§6.1). `out` is cleared first and its capacity reused.
pub fn write_report(
    out: &mut Vec<u8>,
    ssrc: Ssrc,
    sender: Option<SenderInfo>,
    block: Option<ReportBlock>,
    cname: &str,
) {
    out.clear();
    let blocks = u8::from(block.is_some());
    let words: u16 = match sender {
        Some(_) => 6 + 6 * u16::from(blocks),
        None => 1 + 6 * u16::from(blocks),
    };
    out.push(0x80 | blocks);
    out.push(if sender.is_some() { PT_SR } else { PT_RR });
    out.extend_from_slice(&words.to_be_bytes());
    out.extend_from_slice(&ssrc.0.to_be_bytes());
    if let Some(info) = sender {
        out.extend_from_slice(&info.ntp.0.to_be_bytes());
        out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&info.packet_count.to_be_bytes());
        out.extend_from_slice(&info.octet_count.to_be_bytes());
    }
    if let Some(b) = block {
        out.extend_from_slice(&b.ssrc.0.to_be_bytes());
        let lost = (b.data.cumulative_lost as u32) & 0x00ff_ffff;
        out.extend_from_slice(&(u32::from(b.data.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&b.data.extended_highest_seq.to_be_bytes());
        out.extend_from_slice(&b.data.jitter.to_be_bytes());
        out.extend_from_slice(&b.last_sr.to_be_bytes());
        out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
    // SDES: one chunk, CNAME item (≤255 bytes), a terminating zero, padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let chunk_len = 4 + 2 + cname.len() + 1;
    let padded = chunk_len.div_ceil(4) * 4;
    out.push(0x81);
    out.push(PT_SDES);
    out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.0.to_be_bytes());
    out.push(1);
    out.push(cname.len() as u8);
    out.extend_from_slice(cname);
    out.extend(std::iter::repeat_n(0, padded - chunk_len + 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_report_parses_back() {
        let block = ReportBlock {
            ssrc: Ssrc(9),
            data: ReportBlockData {
                fraction_lost: 25,
                cumulative_lost: -3,
                extended_highest_seq: 70_000,
                jitter: 44,
            },
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        };
        let info = SenderInfo {
            ntp: NtpTime::from_unix(std::time::Duration::from_millis(1_500)),
            rtp_timestamp: 160,
            packet_count: 2,
            octet_count: 320,
        };
        let mut out = Vec::new();
        for sender in [Some(info), None] {
            write_report(&mut out, Ssrc(7), sender, Some(block), "sipbridge@host");
            assert_eq!(out.len() % 4, 0);
            let packets: Vec<_> = parse_compound(&out).collect::<Result<_, _>>().unwrap();
            assert_eq!(packets.len(), 2);
            let blocks = match packets[0] {
                RtcpPacket::SenderReport {
                    ssrc,
                    info: got,
                    blocks,
                } => {
                    assert_eq!((ssrc, got), (Ssrc(7), info));
                    blocks
                }
                RtcpPacket::ReceiverReport { ssrc, blocks } => {
                    assert_eq!(ssrc, Ssrc(7));
                    blocks
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(blocks.iter().collect::<Vec<_>>(), [block]);
            assert_eq!(
                packets[1],
                RtcpPacket::Other {
                    packet_type: PT_SDES
                }
            );
        }
        assert_eq!(info.ntp.0 >> 32, 2_208_988_801);
        assert_eq!(info.ntp.0 as u32, 1 << 31);
    }

    #[test]
    fn malformed_compounds_stop_with_an_error() {
        let bye = [0x81, PT_BYE, 0, 1, 0, 0, 0, 5];
        assert!(matches!(
            parse_compound(&bye).next(),
            Some(Ok(RtcpPacket::Bye { ssrcs })) if ssrcs == [0, 0, 0, 5]
        ));
        let mut long = bye;
        long[3] = 9;
        let errors: Vec<_> = parse_compound(&long).collect();
        assert_eq!(
            errors,
            [Err(Error::RtcpLength {
                words: 9,
                remaining: 8
            })]
        );
        let sr_without_body = [0x80, PT_SR, 0, 0];
        assert_eq!(
            parse_compound(&sr_without_body).next(),
            Some(Err(Error::Truncated("sender report")))
        );
        let rr_with_missing_block = [0x81, PT_RR, 0, 1, 0, 0, 0, 1];
        assert_eq!(
            parse_compound(&rr_with_missing_block).next(),
            Some(Err(Error::Truncated("report blocks")))
        );
        assert_eq!(
            parse_compound(&[0x00, 200, 0, 0]).next(),
            Some(Err(Error::Version(0)))
        );
    }
}
