//! Per-source reception statistics: sequence tracking (RFC 3550 A.1), loss (A.3) and
//! interarrival jitter (A.8), which feed our RTCP receiver reports and the call record.

use std::time::{Duration, Instant};

const SEQ_MOD: u32 = 1 << 16;
/// A.1: a forward jump larger than this is a restart, not loss.
const MAX_DROPOUT: u16 = 3000;
/// A.1: a packet this far behind the highest is a late straggler, not a restart.
const MAX_MISORDER: u16 = 100;

/// What the sequence number of a packet means for playout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// In the current sequence space, with its extended (never wrapping) number.
    Accepted(u64),
    /// The source jumped and the jump was confirmed by a second packet (A.1 `bad_seq`):
    /// the numbering restarted here, so playout must restart too.
    Restarted(u64),
    /// A lone packet far outside the sequence space; dropped until a second confirms it.
    Ignored,
}

/// What one RTCP report block says about a source (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlockData {
    pub fraction_lost: u8,
    /// Cumulative loss, clamped to the 24-bit signed field.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

/// Reception state of one SSRC.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    base_seq: u64,
    /// Highest extended sequence number seen.
    max_ext: u64,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    duplicates_or_late: u64,
    /// A.8 jitter estimate scaled by 16, in timestamp units.
    jitter_q4: u32,
    last_transit: Option<i64>,
    epoch: Instant,
}

impl ReceiveStats {
    /// Statistics for a source whose first packet carries `first_seq`, arriving at `now`.
    /// There is no A.1 probation: the source was negotiated in SDP (and latched), so its
    /// first packet is already audio we want to play.
    pub fn new(first_seq: u16, clock_rate: u32, now: Instant) -> Self {
        Self {
            clock_rate,
            base_seq: u64::from(first_seq),
            max_ext: u64::from(first_seq),
            bad_seq: SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            duplicates_or_late: 0,
            jitter_q4: 0,
            last_transit: None,
            epoch: now,
        }
    }

    /// Updates sequence state for a packet (RFC 3550 A.1 `update_seq`) and, for accepted
    /// packets, the jitter estimate (A.8) from its RTP `timestamp` and arrival time.
    pub fn on_packet(&mut self, seq: u16, timestamp: u32, now: Instant) -> SeqOutcome {
        let max_seq = self.max_ext as u16;
        let udelta = seq.wrapping_sub(max_seq);
        let outcome = if self.received == 0 {
            SeqOutcome::Accepted(self.max_ext)
        } else if udelta < MAX_DROPOUT {
            // In order, with a permissible gap; the extension carries across a wrap.
            self.max_ext += u64::from(udelta);
            SeqOutcome::Accepted(self.max_ext)
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets after a big jump: the source restarted.
                let cycles = self.max_ext & !u64::from(u16::MAX);
                *self = Self::new(seq, self.clock_rate, self.epoch);
                self.base_seq = cycles + u64::from(seq);
                self.max_ext = self.base_seq;
                self.record_arrival(timestamp, now);
                self.received = 1;
                return SeqOutcome::Restarted(self.max_ext);
            }
            self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
            return SeqOutcome::Ignored;
        } else {
            // Behind the highest: a duplicate or a reordered packet.
            let behind = u64::from(max_seq.wrapping_sub(seq));
            self.duplicates_or_late += 1;
            match self.max_ext.checked_sub(behind) {
                Some(ext) => SeqOutcome::Accepted(ext),
                None => return SeqOutcome::Ignored,
            }
        };
        self.received += 1;
        self.record_arrival(timestamp, now);
        outcome
    }

    fn record_arrival(&mut self, timestamp: u32, now: Instant) {
        let arrival = now.saturating_duration_since(self.epoch);
        let arrival_ts = (arrival.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as i64;
        // Transit times are only ever compared, so the timestamp's wrap is handled by
        // taking differences in 32-bit space.
        let transit = arrival_ts.wrapping_sub(i64::from(timestamp)) as i32 as i64;
        if let Some(last) = self.last_transit {
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            // J += (|D| - J) / 16, kept scaled by 16 to stay in integers (A.8).
            self.jitter_q4 = self
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Packets expected so far from the sequence numbers (A.3).
    pub fn expected(&self) -> u64 {
        self.max_ext - self.base_seq + 1
    }

    /// Packets received, duplicates included as A.3 counts them.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets that arrived behind the highest sequence number.
    pub fn duplicates_or_late(&self) -> u64 {
        self.duplicates_or_late
    }

    /// Packets lost so far; negative when duplicates outnumber losses (A.3).
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter (A.8).
    pub fn jitter(&self) -> Duration {
        Duration::from_nanos(
            u64::from(self.jitter_q4 >> 4) * 1_000_000_000 / u64::from(self.clock_rate.max(1)),
        )
    }

    /// The data of a report block, and the start of the next reporting interval (A.3).
    pub fn report(&mut self) -> ReportBlockData {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        ReportBlockData {
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_seq: self.max_ext as u32,
            jitter: self.jitter_q4 >> 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn extends_across_the_wrap_and_counts_loss() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(65533, 8000, t0);
        let mut seqs = vec![];
        for (i, seq) in [65533u16, 65534, 65535, 1, 2].into_iter().enumerate() {
            seqs.push(s.on_packet(seq, i as u32 * 160, at(t0, i as u64 * 20)));
        }
        assert_eq!(seqs[3], SeqOutcome::Accepted(65537));
        assert_eq!(s.expected(), 6);
        assert_eq!(s.lost(), 1); // seq 0
        let block = s.report();
        assert_eq!(block.fraction_lost, (256 / 6) as u8);
        assert_eq!(block.extended_highest_seq, 65538);
        // A late duplicate gets its own extended number and makes the loss negative-proof.
        assert_eq!(
            s.on_packet(65535, 320, at(t0, 120)),
            SeqOutcome::Accepted(65535)
        );
        assert_eq!(s.report().fraction_lost, 0);
    }

    #[test]
    fn a_jump_restarts_only_when_confirmed() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(100, 8000, t0);
        s.on_packet(100, 0, t0);
        assert_eq!(s.on_packet(40_000, 160, t0), SeqOutcome::Ignored);
        assert_eq!(s.on_packet(101, 160, t0), SeqOutcome::Accepted(101));
        assert_eq!(s.on_packet(50_000, 320, t0), SeqOutcome::Ignored);
        assert_eq!(s.on_packet(50_001, 480, t0), SeqOutcome::Restarted(50_001));
        assert_eq!(s.on_packet(50_002, 640, t0), SeqOutcome::Accepted(50_002));
        assert_eq!(s.expected(), 2);
    }

    #[test]
    fn jitter_follows_arrival_variation() {
        let t0 = Instant::now();
        let mut steady = ReceiveStats::new(0, 8000, t0);
        let mut jittery = ReceiveStats::new(0, 8000, t0);
        for i in 0..500u16 {
            let ts = u32::from(i) * 160;
            steady.on_packet(i, ts, at(t0, u64::from(i) * 20));
            // Every other packet 10 ms late: |D| alternates 10 ms, so J tends to 10 ms.
            let late = if i % 2 == 1 { 10 } else { 0 };
            jittery.on_packet(i, ts, at(t0, u64::from(i) * 20 + late));
        }
        assert_eq!(steady.jitter(), Duration::ZERO);
        let j = jittery.jitter().as_secs_f64() * 1000.0;
        assert!((9.0..=10.5).contains(&j), "jitter {j} ms");
    }
}
