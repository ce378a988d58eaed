//! Adaptive playout (jitter) buffer for one RTP stream.
//!
//! Packets are slotted by extended sequence number and played in sequence order, one
//! packet per [`JitterBuffer::pop`], so a timestamp jump (silence suppression, a PBX
//! switching sources) never inserts silence: only sequence gaps are loss.
//!
//! - Target depth: the spread of recent transit times (arrival minus RTP timestamp) plus
//!   the least depth packets of this size need when played in 20 ms frames, within the
//!   configured min/max, raised by a packet for a while after an underrun.
//! - An empty head gets one frame of grace (a late packet, or a sender whose clock runs
//!   slow), then counts as lost for a few frames, then as a paused sender: the buffer
//!   rewinds to just after the last packet and fills up again.
//! - Once a second it checks its lowest depth: a packet or more too deep, it sheds the
//!   excess (the sender's clock runs fast, or jitter calmed down); a packet short, it
//!   stretches by one concealed frame. Clock drift never builds up delay.
//! - No packet is held longer than max + one packet: jitter beyond max costs audio, never
//!   latency.

use std::time::{Duration, Instant};

/// Packets the ring holds; a packet this far ahead of playout restarts the buffer.
const SLOTS: usize = 64;
/// Transit times remembered for the target depth (about 1.3 s of 20 ms packets).
const TRANSIT_WINDOW: usize = 64;
/// How often the depth is checked for drift.
const ADAPT_EVERY: Duration = Duration::from_secs(1);
/// Empty pops treated as lost packets before the stream counts as paused.
const MAX_LOST_AT_HEAD: u32 = 3;
/// How long an underrun keeps the target raised.
const UNDERRUN_MEMORY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
struct Slot {
    seq: Option<u64>,
    timestamp: u32,
    arrival: Option<Instant>,
    data: Vec<u8>,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    Duplicate,
    /// Behind the playout point: it would have been played already.
    TooLate,
    /// So far ahead that the buffer restarted from it.
    Restarted,
}

/// What to play next.
#[derive(Debug, PartialEq, Eq)]
pub enum Pop<'a> {
    Packet {
        seq: u64,
        timestamp: u32,
        payload: &'a [u8],
    },
    /// The packet `seq` is missing while later ones are here: conceal `ticks` of audio.
    /// `next` is the following packet's payload when present (Opus in-band FEC).
    Lost {
        seq: u64,
        ticks: u32,
        next: Option<&'a [u8]>,
    },
    /// Nothing to play now (filling up, starved, or stretching): conceal one frame.
    Starved,
}

/// Counters for the call record and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub played: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    pub underruns: u64,
    /// Packets skipped to shed delay.
    pub skipped: u64,
    /// Frames concealed to grow delay.
    pub stretched: u64,
    pub restarts: u64,
}

/// Depth limits in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterLimits {
    pub min_ms: u32,
    pub max_ms: u32,
}

/// An adaptive jitter buffer for one stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    slots: Vec<Slot>,
    /// Next sequence number to play; `None` until the first packet.
    next: Option<u64>,
    newest: u64,
    filling: bool,
    clock_rate: u32,
    packet_ticks: u32,
    min_ticks: u32,
    max_ticks: u32,
    target_ticks: u32,
    transits: [i32; TRANSIT_WINDOW],
    transit_count: usize,
    transit_base: Option<i64>,
    epoch: Option<Instant>,
    window_start: Option<Instant>,
    window_min_depth: u32,
    last_underrun: Option<Instant>,
    /// The tick of the last pop: depth is sampled once per tick, before its first pop.
    last_pop: Option<Instant>,
    stretch_pending: bool,
    skip_pending: u32,
    /// Consecutive pops that found nothing buffered.
    empty_pops: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for a stream on an RTP clock of `clock_rate` whose packets usually carry
    /// `packet_ms` of audio (learned from the stream afterwards).
    pub fn new(clock_rate: u32, packet_ms: u32, limits: JitterLimits) -> Self {
        let ticks = |ms: u32| (u64::from(ms) * u64::from(clock_rate) / 1000) as u32;
        let min_ticks = ticks(limits.min_ms);
        Self {
            slots: vec![Slot::default(); SLOTS],
            next: None,
            newest: 0,
            filling: true,
            clock_rate,
            packet_ticks: ticks(packet_ms).max(1),
            min_ticks,
            max_ticks: ticks(limits.max_ms).max(min_ticks),
            target_ticks: min_ticks.max(playout_floor(
                ticks(packet_ms).max(1),
                ticks(crate::FRAME_MS),
            )),
            transits: [0; TRANSIT_WINDOW],
            transit_count: 0,
            transit_base: None,
            epoch: None,
            window_start: None,
            window_min_depth: u32::MAX,
            last_underrun: None,
            last_pop: None,
            stretch_pending: false,
            skip_pending: 0,
            empty_pops: 0,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The depth playout currently aims for.
    pub fn target(&self) -> Duration {
        self.ticks_to_duration(self.target_ticks)
    }

    /// Audio buffered ahead of playout, gaps included.
    pub fn depth(&self) -> Duration {
        self.ticks_to_duration(self.depth_ticks())
    }

    /// The RTP ticks one packet carries, as learned from the stream.
    pub fn packet_ticks(&self) -> u32 {
        self.packet_ticks
    }

    fn frame_ticks(&self) -> u32 {
        self.clock_rate * crate::FRAME_MS / 1000
    }

    fn ticks_to_duration(&self, ticks: u32) -> Duration {
        Duration::from_micros(u64::from(ticks) * 1_000_000 / u64::from(self.clock_rate.max(1)))
    }

    fn depth_ticks(&self) -> u32 {
        match self.next {
            Some(next) if self.newest >= next => {
                let packets = (self.newest - next + 1).min(SLOTS as u64) as u32;
                packets * self.packet_ticks
            }
            _ => 0,
        }
    }

    /// Forgets every packet (the source restarted or changed SSRC); keeps what was learned
    /// about the network.
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.seq = None;
        }
        self.next = None;
        self.filling = true;
        self.forget_transits();
    }

    /// Stores a packet with its extended sequence number. `marker` marks the start of a
    /// talkspurt, after which transit times are measured afresh.
    pub fn push(
        &mut self,
        now: Instant,
        seq: u64,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Pushed {
        let mut result = Pushed::Stored;
        let mut fresh = false;
        match self.next {
            None => {
                self.next = Some(seq);
                fresh = true;
            }
            Some(next) if seq < next => {
                let nothing_played = self.stats.played + self.stats.lost == 0;
                if nothing_played && self.newest - seq < SLOTS as u64 {
                    // Overtaken before playout began: still playable, so start from it.
                    self.next = Some(seq);
                } else {
                    self.stats.late += 1;
                    return Pushed::TooLate;
                }
            }
            Some(next) if seq >= next.saturating_add(SLOTS as u64) => {
                self.reset();
                self.stats.restarts += 1;
                self.next = Some(seq);
                fresh = true;
                result = Pushed::Restarted;
            }
            Some(_) => {}
        }
        let index = (seq % SLOTS as u64) as usize;
        if self.slots[index].seq == Some(seq) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.learn_packet_ticks(seq, timestamp, marker);
        self.record_transit(now, timestamp);
        let slot = &mut self.slots[index];
        slot.seq = Some(seq);
        slot.timestamp = timestamp;
        slot.arrival = Some(now);
        slot.data.clear();
        slot.data.extend_from_slice(payload);
        self.newest = if fresh { seq } else { self.newest.max(seq) };
        result
    }

    fn slot(&self, seq: u64) -> Option<&Slot> {
        let slot = &self.slots[(seq % SLOTS as u64) as usize];
        (slot.seq == Some(seq)).then_some(slot)
    }

    /// Learns the packet duration from neighbours; a jump that no ptime explains (the
    /// sender skipped silence or switched streams) starts a fresh transit measurement.
    fn learn_packet_ticks(&mut self, seq: u64, timestamp: u32, marker: bool) {
        let previous = seq
            .checked_sub(1)
            .and_then(|p| self.slot(p))
            .map(|s| s.timestamp);
        let Some(previous) = previous else {
            if marker {
                self.forget_transits();
            }
            return;
        };
        let delta = timestamp.wrapping_sub(previous);
        let plausible = delta > 0 && u64::from(delta) * 1000 <= 120 * u64::from(self.clock_rate);
        if plausible && !marker {
            if delta != self.packet_ticks {
                self.packet_ticks = delta;
                let floor = playout_floor(delta, self.frame_ticks());
                self.target_ticks = self.target_ticks.max(floor).min(self.max_ticks.max(floor));
            }
        } else {
            self.forget_transits();
        }
    }

    /// Transit times are compared within one timeline; after a restart or a jump they start
    /// over.
    fn forget_transits(&mut self) {
        self.transit_count = 0;
        self.transit_base = None;
    }

    fn record_transit(&mut self, now: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.saturating_duration_since(epoch).as_micros() as u64;
        let arrival_ticks = (u128::from(arrival) * u128::from(self.clock_rate) / 1_000_000) as i64;
        let transit = arrival_ticks.wrapping_sub(i64::from(timestamp));
        let base = *self.transit_base.get_or_insert(transit);
        // Relative to the talkspurt's first packet; 32 bits absorb the timestamp wrap.
        self.transits[self.transit_count % TRANSIT_WINDOW] = transit.wrapping_sub(base) as i32;
        self.transit_count += 1;
    }

    /// The next packet to play, a loss to conceal, or nothing. Call once per packet's
    /// worth of playout (the caller's frame tick).
    pub fn pop(&mut self, now: Instant) -> Pop<'_> {
        self.adapt(now);
        let Some(mut next) = self.next else {
            return Pop::Starved;
        };
        if self.filling {
            // Whatever is missing before the oldest packet here was due while we were
            // starved: it is lost, and waiting for it would only add delay.
            if let Some(oldest) = (next..=self.newest).find(|&s| self.slot(s).is_some()) {
                next = oldest;
                self.next = Some(next);
            }
            let depth = self.depth_ticks();
            if depth == 0 || depth < self.target_ticks {
                return Pop::Starved;
            }
            self.filling = false;
        }
        if self.newest < next {
            // Nothing buffered. First give the packet one frame of grace: a slow sender or
            // a late packet needs exactly that stretch. Then a few frames count as a lost
            // packet at the head (its successors will be on time). Longer, the sender has
            // paused (silence suppression and DTX keep sequence numbers contiguous): rewind
            // to right after the last packet and fill up again.
            self.empty_pops += 1;
            if self.empty_pops == 1 {
                self.stats.stretched += 1;
                return Pop::Starved;
            }
            if self.empty_pops <= 1 + MAX_LOST_AT_HEAD {
                self.next = Some(next + 1);
                self.stats.lost += 1;
                return Pop::Lost {
                    seq: next,
                    ticks: self.packet_ticks,
                    next: None,
                };
            }
            self.next = Some(self.newest + 1);
            self.filling = true;
            self.stats.underruns += 1;
            self.last_underrun = Some(now);
            return Pop::Starved;
        }
        self.empty_pops = 0;
        if self.last_pop != Some(now) {
            self.window_min_depth = self.window_min_depth.min(self.depth_ticks());
            self.last_pop = Some(now);
        }
        if self.stretch_pending {
            self.stretch_pending = false;
            self.stats.stretched += 1;
            return Pop::Starved;
        }
        if self.skip_pending > 0 && self.newest > next && self.slot(next).is_some() {
            self.skip_pending -= 1;
            self.stats.skipped += 1;
            next += 1;
        }
        // The hard bound: no packet is held longer than `max` plus one packet. Jitter
        // beyond the maximum costs audio, never latency.
        let longest = self.ticks_to_duration(self.max_ticks + self.packet_ticks);
        while next < self.newest
            && self
                .slot(next)
                .and_then(|s| s.arrival)
                .is_some_and(|a| now.saturating_duration_since(a) > longest)
        {
            self.stats.skipped += 1;
            next += 1;
        }
        self.next = Some(next + 1);
        if self.slot(next).is_none() {
            self.stats.lost += 1;
            return Pop::Lost {
                seq: next,
                ticks: self.packet_ticks,
                next: self.slot(next + 1).map(|s| &s.data[..]),
            };
        }
        self.stats.played += 1;
        let slot = &mut self.slots[(next % SLOTS as u64) as usize];
        slot.seq = None;
        Pop::Packet {
            seq: next,
            timestamp: slot.timestamp,
            payload: &slot.data,
        }
    }

    /// Once a second: recompute the target and correct persistent over- or under-depth.
    fn adapt(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) < ADAPT_EVERY {
            return;
        }
        self.window_start = Some(now);
        let filled = self.transit_count.min(TRANSIT_WINDOW);
        let window = &self.transits[..filled];
        let spread = match (window.iter().max(), window.iter().min()) {
            (Some(max), Some(min)) => (i64::from(*max) - i64::from(*min)).max(0) as u32,
            _ => 0,
        };
        let recent_underrun = self
            .last_underrun
            .is_some_and(|t| now.saturating_duration_since(t) < UNDERRUN_MEMORY);
        let headroom = if recent_underrun {
            self.packet_ticks
        } else {
            0
        };
        let floor = playout_floor(self.packet_ticks, self.frame_ticks());
        self.target_ticks = (spread + floor + headroom)
            .max(self.min_ticks)
            .min(self.max_ticks.max(floor));
        let min_depth = std::mem::replace(&mut self.window_min_depth, u32::MAX);
        if self.filling || min_depth == u32::MAX {
            return;
        }
        if min_depth >= self.target_ticks + self.packet_ticks {
            // Shed the whole excess now, one packet per pop, rather than a packet a second.
            self.skip_pending = (min_depth - self.target_ticks) / self.packet_ticks;
        } else if min_depth + self.packet_ticks <= self.target_ticks {
            self.stretch_pending = true;
        }
    }
}

/// The least depth that never starves when packets of `packet` ticks are played out in
/// frames of `frame` ticks: a whole packet must be here whenever the leftover of the last
/// one falls short of a frame, which it does by up to `frame - gcd(packet, frame)`.
fn playout_floor(packet: u32, frame: u32) -> u32 {
    let (mut a, mut b) = (packet.max(1), frame.max(1));
    while b != 0 {
        (a, b) = (b, a % b);
    }
    packet + frame - a
}
