//! DTMF: RFC 4733 telephone-events in both directions, and in-band dual tones for peers
//! that negotiated no telephone-event.

use std::time::{Duration, Instant};

use crate::Error;
use crate::tone::DualTone;

/// Event codes 0–15 are the DTMF keys (RFC 4733 §3.2).
const KEYS: &[u8; 16] = b"0123456789*#ABCD";

/// The key of an event code, if it is a DTMF key.
pub fn key_for_code(code: u8) -> Option<char> {
    KEYS.get(usize::from(code)).map(|&k| char::from(k))
}

/// The event code of a key (`a`–`d` accepted for `A`–`D`).
pub fn code_for_key(key: char) -> Option<u8> {
    let key = key.to_ascii_uppercase();
    KEYS.iter()
        .position(|&k| char::from(k) == key)
        .map(|i| i as u8)
}

/// One key press, reported once when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    pub code: u8,
    pub key: char,
    pub duration: Duration,
}

/// The first event block of a telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBlock {
    pub code: u8,
    pub end: bool,
    pub volume: u8,
    /// In RTP timestamp units since the event's timestamp.
    pub duration: u16,
}

impl EventBlock {
    pub fn parse(payload: &[u8]) -> Result<Self, Error> {
        let b = payload
            .get(..4)
            .ok_or(Error::Truncated("telephone-event"))?;
        Ok(Self {
            code: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.code,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// An event whose end packets all went missing is closed after this much silence.
const LOST_END_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy)]
struct Receiving {
    code: u8,
    /// Timestamp of the current segment (a long event continues in new segments, §2.5.1.3).
    segment: u32,
    segment_ticks: u16,
    earlier_ticks: u64,
    last_seen: Instant,
}

/// Turns received telephone-event packets into one [`KeyPress`] per key.
///
/// Packets of one event share a timestamp; the end packet is sent three times; the marker
/// bit may be missing; a packet may be lost. So: an event is identified by its timestamp
/// (compared with wrap-around), reported once on its first end packet, and its
/// retransmitted ends are ignored. An event that never ends is reported when another starts
/// or after [`LOST_END_TIMEOUT`].
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    clock_rate: u32,
    current: Option<Receiving>,
    /// (timestamp, code) of the last event reported, to drop its retransmitted ends.
    finished: Option<(u32, u8)>,
}

impl DtmfReceiver {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            current: None,
            finished: None,
        }
    }

    /// Handles one telephone-event payload; `emit` is called for each finished key press
    /// (at most two: an unfinished earlier one and this one).
    pub fn on_packet(
        &mut self,
        now: Instant,
        timestamp: u32,
        payload: &[u8],
        mut emit: impl FnMut(KeyPress),
    ) -> Result<(), Error> {
        let block = EventBlock::parse(payload)?;
        if key_for_code(block.code).is_none() || self.finished == Some((timestamp, block.code)) {
            return Ok(());
        }
        let continues = match &mut self.current {
            Some(c) if c.code == block.code && c.segment == timestamp => true,
            Some(c)
                if c.code == block.code
                    && timestamp == c.segment.wrapping_add(u32::from(c.segment_ticks)) =>
            {
                // A long event's next segment starts where the previous one ended.
                c.earlier_ticks += u64::from(c.segment_ticks);
                c.segment = timestamp;
                c.segment_ticks = 0;
                true
            }
            _ => false,
        };
        if !continues {
            if let Some(unfinished) = self.current.take() {
                emit(self.finish(unfinished));
            }
            self.current = Some(Receiving {
                code: block.code,
                segment: timestamp,
                segment_ticks: 0,
                earlier_ticks: 0,
                last_seen: now,
            });
        }
        if let Some(c) = &mut self.current {
            c.segment_ticks = c.segment_ticks.max(block.duration);
            c.last_seen = now;
            if block.end {
                let done = *c;
                self.current = None;
                emit(self.finish(done));
            }
        }
        Ok(())
    }

    /// Reports an event whose end never came, once it has been quiet long enough.
    pub fn poll(&mut self, now: Instant) -> Option<KeyPress> {
        let c = self.current?;
        if now.saturating_duration_since(c.last_seen) < LOST_END_TIMEOUT {
            return None;
        }
        self.current = None;
        Some(self.finish(c))
    }

    /// When [`Self::poll`] next has something to report.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_seen + LOST_END_TIMEOUT)
    }

    fn finish(&mut self, c: Receiving) -> KeyPress {
        self.finished = Some((c.segment, c.code));
        let ticks = c.earlier_ticks + u64::from(c.segment_ticks);
        KeyPress {
            code: c.code,
            key: key_for_code(c.code).unwrap_or('?'),
            duration: Duration::from_micros(ticks * 1_000_000 / u64::from(self.clock_rate.max(1))),
        }
    }
}

/// What the sender does with the next frame of a leg while DTMF is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfFrame {
    /// No DTMF now: send the audio.
    Audio,
    /// Send this telephone-event packet instead of audio (marker, event timestamp, payload).
    Event {
        marker: bool,
        timestamp: u32,
        payload: [u8; 4],
    },
    /// Send nothing this frame (the pause between digits, or the `w` of a dial string).
    Silence,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Key { code: u8, ticks: u32 },
    Pause { ticks: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    step: Step,
    /// Timestamp the event started at (all its packets carry it, RFC 4733 §2.5.1.2).
    start: u32,
    sent_ticks: u32,
    end_packets: u8,
}

/// Plays a dial string as RFC 4733 events, three end packets each (§2.5.1.4), with a gap
/// between keys; or, for a peer without telephone-event, as in-band dual tones.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    clock_rate: u32,
    pcm_rate: u32,
    queue: std::collections::VecDeque<Step>,
    current: Option<Sending>,
    inband: Option<DualTone>,
}

/// Default key length and the gap after it.
pub const KEY_DURATION: Duration = Duration::from_millis(100);
pub const KEY_GAP: Duration = Duration::from_millis(60);
/// `w` in a dial string waits half a second (LiveKit's `dtmf` field).
pub const PAUSE_W: Duration = Duration::from_millis(500);
/// Keys queued at most; a longer dial string is refused rather than growing memory.
pub const MAX_QUEUED: usize = 64;

impl DtmfSender {
    /// A sender for a leg on RTP clock `clock_rate` carrying PCM at `pcm_rate`.
    pub fn new(clock_rate: u32, pcm_rate: u32) -> Self {
        Self {
            clock_rate,
            pcm_rate,
            queue: std::collections::VecDeque::with_capacity(MAX_QUEUED),
            current: None,
            inband: None,
        }
    }

    fn ticks(&self, d: Duration) -> u32 {
        // An event's duration field is 16 bits; cap a key there (1.3 s at 48 kHz).
        (d.as_micros() as u64 * u64::from(self.clock_rate) / 1_000_000).min(u64::from(u16::MAX))
            as u32
    }

    /// Queues a dial string (`0-9*#A-D`, `w` = pause); false, queueing nothing, if it holds
    /// another character or does not fit.
    pub fn queue(&mut self, dial: &str, key_duration: Duration) -> bool {
        let steps = dial.chars().count() * 2;
        if self.queue.len() + steps > MAX_QUEUED
            || !dial
                .chars()
                .all(|c| c == 'w' || c == 'W' || code_for_key(c).is_some())
        {
            return false;
        }
        for c in dial.chars() {
            match code_for_key(c) {
                Some(code) => {
                    let ticks = self.ticks(key_duration);
                    self.queue.push_back(Step::Key { code, ticks });
                    let gap = self.ticks(KEY_GAP);
                    self.queue.push_back(Step::Pause { ticks: gap });
                }
                None => {
                    let ticks = self.ticks(PAUSE_W);
                    self.queue.push_back(Step::Pause { ticks });
                }
            }
        }
        true
    }

    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// Decides the next frame of `frame_ticks` starting at RTP time `timestamp`.
    pub fn next_frame(&mut self, timestamp: u32, frame_ticks: u32) -> DtmfFrame {
        if self.current.is_none() {
            let Some(step) = self.queue.pop_front() else {
                return DtmfFrame::Audio;
            };
            self.current = Some(Sending {
                step,
                start: timestamp,
                sent_ticks: 0,
                end_packets: 0,
            });
            if let Step::Key { code, .. } = step {
                let (low, high) = dual_tone_hz(code);
                self.inband = Some(DualTone::new(low, Some(high), self.pcm_rate, 7000));
            }
        }
        let Some(s) = &mut self.current else {
            return DtmfFrame::Audio;
        };
        match s.step {
            Step::Pause { ticks } => {
                s.sent_ticks += frame_ticks;
                if s.sent_ticks >= ticks {
                    self.current = None;
                }
                DtmfFrame::Silence
            }
            Step::Key { code, ticks } => {
                let marker = s.sent_ticks == 0;
                s.sent_ticks = (s.sent_ticks + frame_ticks).min(ticks);
                let end = s.sent_ticks >= ticks;
                if end {
                    s.end_packets += 1;
                }
                let block = EventBlock {
                    code,
                    end,
                    volume: 10,
                    duration: s.sent_ticks as u16,
                };
                let frame = DtmfFrame::Event {
                    marker,
                    timestamp: s.start,
                    payload: block.to_bytes(),
                };
                if s.end_packets >= 3 {
                    self.current = None;
                    self.inband = None;
                }
                frame
            }
        }
    }

    /// For a peer without telephone-event: overwrites `pcm` with the key's dual tone if
    /// [`Self::next_frame`] said `Event`, with silence if it said `Silence`.
    pub fn fill_inband(&mut self, frame: DtmfFrame, pcm: &mut [i16]) {
        match (frame, &mut self.inband) {
            (DtmfFrame::Event { .. }, Some(tone)) => tone.fill(pcm),
            (DtmfFrame::Event { .. } | DtmfFrame::Silence, _) => pcm.fill(0),
            (DtmfFrame::Audio, _) => {}
        }
    }
}

/// Row and column frequencies of a key (ITU-T Q.23).
fn dual_tone_hz(code: u8) -> (f64, f64) {
    const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    // Keypad position of each code: row, column.
    const POSITION: [(usize, usize); 16] = [
        (3, 1),
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (2, 0),
        (2, 1),
        (2, 2),
        (3, 0),
        (3, 2),
        (0, 3),
        (1, 3),
        (2, 3),
        (3, 3),
    ];
    let (row, col) = POSITION[usize::from(code) % 16];
    (LOW[row], HIGH[col])
}
