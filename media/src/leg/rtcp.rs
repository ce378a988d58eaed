//! RTCP for the SIP leg (RFC 3550 §6): our compound SR/RR every few seconds, and what the
//! phone's reports tell us (its view of our stream's loss and jitter, the round-trip time).

use std::time::{Duration, Instant};

use super::{PhoneReceiver, PhoneSender};
use crate::rtcp::{NtpTime, ReportBlock, RtcpPacket, parse_compound, write_report};
use crate::rtp::{ReportBlockData, Ssrc};

/// RFC 3550 §6.2: 5 s minimum interval; a two-party call needs nothing shorter.
const INTERVAL: Duration = Duration::from_secs(5);

/// What the phone last reported about the stream we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteReport {
    pub data: ReportBlockData,
    /// From LSR/DLSR (§6.4.1), when the phone echoed one of our SRs.
    pub round_trip: Option<Duration>,
}

/// RTCP state of one SIP leg.
#[derive(Debug)]
pub struct RtcpSession {
    cname: String,
    next_report: Instant,
    /// The phone's last SR: its NTP middle bits and when it arrived (for LSR/DLSR).
    last_sr: Option<(u32, Instant)>,
    remote: Option<RemoteReport>,
    byes: u64,
    malformed: u64,
    out: Vec<u8>,
}

impl RtcpSession {
    /// `cname` identifies us in SDES (§6.5.1), e.g. `sipbridge@host`.
    pub fn new(now: Instant, cname: &str) -> Self {
        Self {
            cname: cname.to_owned(),
            next_report: now + INTERVAL,
            last_sr: None,
            remote: None,
            byes: 0,
            malformed: 0,
            out: Vec::with_capacity(128),
        }
    }

    pub fn poll_timeout(&self) -> Instant {
        self.next_report
    }

    pub fn remote_report(&self) -> Option<RemoteReport> {
        self.remote
    }

    /// RTCP BYE packets received (the phone's stream left; the SIP BYE ends the call).
    pub fn byes(&self) -> u64 {
        self.byes
    }

    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Our compound report when one is due: an SR if we have sent RTP, else an RR, with a
    /// block about the phone's stream. `wallclock` is the caller's reading of the time
    /// since the Unix epoch (this crate reads no clock).
    pub fn poll_report(
        &mut self,
        now: Instant,
        wallclock: Duration,
        receiver: &mut PhoneReceiver,
        sender: &PhoneSender,
    ) -> Option<&[u8]> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + INTERVAL;
        let block = receiver.report().map(|(ssrc, data)| {
            let (last_sr, delay_since_last_sr) = match self.last_sr {
                Some((lsr, at)) => (lsr, to_q16(now.saturating_duration_since(at))),
                None => (0, 0),
            };
            ReportBlock {
                ssrc,
                data,
                last_sr,
                delay_since_last_sr,
            }
        });
        let info = sender.sender_info(NtpTime::from_unix(wallclock));
        write_report(&mut self.out, sender.ssrc(), info, block, &self.cname);
        Some(&self.out)
    }

    /// Takes one RTCP datagram from the phone. Malformed input is counted, never fatal.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        wallclock: Duration,
        our_ssrc: Ssrc,
        datagram: &[u8],
    ) {
        for packet in parse_compound(datagram) {
            let blocks = match packet {
                Ok(RtcpPacket::SenderReport { info, blocks, .. }) => {
                    self.last_sr = Some((info.ntp.middle(), now));
                    blocks
                }
                Ok(RtcpPacket::ReceiverReport { blocks, .. }) => blocks,
                Ok(RtcpPacket::Bye { .. }) => {
                    self.byes += 1;
                    continue;
                }
                Ok(RtcpPacket::Other { .. }) => continue,
                Err(_) => {
                    self.malformed += 1;
                    return;
                }
            };
            for block in blocks.iter().filter(|b| b.ssrc == our_ssrc) {
                // RTT = arrival − LSR − DLSR, all in 1/65536 s (§6.4.1).
                let arrival = NtpTime::from_unix(wallclock).middle();
                let round_trip = (block.last_sr != 0).then(|| {
                    let q16 = arrival
                        .wrapping_sub(block.last_sr)
                        .wrapping_sub(block.delay_since_last_sr);
                    Duration::from_micros(u64::from(q16) * 1_000_000 / 65_536)
                });
                self.remote = Some(RemoteReport {
                    data: block.data,
                    round_trip: round_trip.filter(|rtt| *rtt < Duration::from_secs(60)),
                });
            }
        }
    }
}

fn to_q16(d: Duration) -> u32 {
    (d.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX)) as u32
}
