//! RTP counts of one call, added to the shared metrics about once a second rather than per
//! packet (a labelled counter costs a hash lookup and a lock).

use std::time::{Duration, Instant};

use crate::metrics::{FROM_PHONE, Metrics, TO_PHONE};

const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    packets: u64,
    bytes: u64,
}

#[derive(Debug)]
pub struct RtpTally {
    from_phone: Counts,
    to_phone: Counts,
    flushed_from: Counts,
    flushed_to: Counts,
    next_flush: Instant,
}

impl RtpTally {
    pub fn new(now: Instant) -> Self {
        Self {
            from_phone: Counts::default(),
            to_phone: Counts::default(),
            flushed_from: Counts::default(),
            flushed_to: Counts::default(),
            next_flush: now + FLUSH_EVERY,
        }
    }

    pub fn received(&mut self, bytes: usize) {
        self.from_phone.packets += 1;
        self.from_phone.bytes += bytes as u64;
    }

    pub fn sent(&mut self, bytes: usize) {
        self.to_phone.packets += 1;
        self.to_phone.bytes += bytes as u64;
    }

    /// Adds what was counted since the last flush, if a flush is due (or `force`).
    pub fn flush(&mut self, now: Instant, metrics: &Metrics, force: bool) {
        if !force && now < self.next_flush {
            return;
        }
        self.next_flush = now + FLUSH_EVERY;
        for (direction, counts, flushed) in [
            (FROM_PHONE, self.from_phone, &mut self.flushed_from),
            (TO_PHONE, self.to_phone, &mut self.flushed_to),
        ] {
            let labels = vec![("direction", direction)];
            metrics
                .rtp_packets
                .get_or_create(&labels)
                .inc_by(counts.packets - flushed.packets);
            metrics
                .rtp_bytes
                .get_or_create(&labels)
                .inc_by(counts.bytes - flushed.bytes);
            *flushed = counts;
        }
    }
}
