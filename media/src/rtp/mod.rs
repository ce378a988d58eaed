//! RTP for the SIP leg: packets, per-source reception statistics, RTCP reports.

mod packet;
mod stats;

pub use packet::{Extension, PayloadType, RtpHeader, RtpPacket, Ssrc, looks_like_rtcp};
pub use stats::{ReceiveStats, ReportBlockData, SeqOutcome};
