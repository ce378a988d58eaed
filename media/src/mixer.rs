//! Room → phone: every subscribed room track played out on its own (jitter buffer, Opus
//! decode at the leg's rate, concealment), summed through a limiter into one 20 ms frame
//! per tick. A starving track contributes silence; the others play on.

use std::time::Instant;

use crate::codec::Decoder;
use crate::jitter::{JitterLimits, Pushed};
use crate::opus::{OpusDecoder, RTP_CLOCK_HZ};
use crate::playout::Playout;
use crate::{Error, FRAME_MS, samples_per_frame};

/// How fast the limiter's gain recovers after a peak: per frame, toward 1.0.
const RELEASE_PER_FRAME: f32 = 0.02;

#[derive(Debug)]
struct Track {
    key: String,
    playout: Playout,
}

/// The mix of a room's audio for one phone.
#[derive(Debug)]
pub struct Mixer {
    rate: u32,
    limits: JitterLimits,
    tracks: Vec<Track>,
    sum: Vec<i32>,
    out: Vec<i16>,
    gain: f32,
}

impl Mixer {
    /// A mixer producing PCM at `rate` (the SIP leg's codec rate).
    pub fn new(rate: u32, limits: JitterLimits) -> Self {
        let frame = samples_per_frame(rate);
        Self {
            rate,
            limits,
            tracks: Vec::new(),
            sum: vec![0; frame],
            out: vec![0; frame],
            gain: 1.0,
        }
    }

    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    /// Starts playing a track (idempotent).
    pub fn add_track(&mut self, key: &str) -> Result<(), Error> {
        if self.tracks.iter().any(|t| t.key == key) {
            return Ok(());
        }
        let decoder = Decoder::Opus(Box::new(OpusDecoder::new(self.rate)?));
        self.tracks.push(Track {
            key: key.to_owned(),
            playout: Playout::new(decoder, RTP_CLOCK_HZ, self.rate, FRAME_MS, self.limits),
        });
        Ok(())
    }

    pub fn remove_track(&mut self, key: &str) {
        self.tracks.retain(|t| t.key != key);
    }

    /// One Opus packet of a track, with its extended sequence number and RTP time. A packet
    /// for a track not added is dropped (`None`).
    pub fn push(
        &mut self,
        now: Instant,
        key: &str,
        seq: u64,
        rtp_time: u32,
        opus: &[u8],
    ) -> Option<Pushed> {
        let track = self.tracks.iter_mut().find(|t| t.key == key)?;
        Some(track.playout.push(now, seq, rtp_time, false, opus))
    }

    /// The next 20 ms of the mix. Exactly one frame per call, whatever the tracks do.
    pub fn mix(&mut self, now: Instant) -> &[i16] {
        self.sum.fill(0);
        let mut peak = 0i32;
        for track in &mut self.tracks {
            let frame = track.playout.next_frame(now);
            for (s, &x) in self.sum.iter_mut().zip(frame) {
                *s += i32::from(x);
            }
        }
        for &s in &self.sum {
            peak = peak.max(s.abs());
        }
        // Limiter: the gain drops at once to what keeps this frame's peak in range and
        // recovers slowly, ramped across each frame; the final clamp only guards against
        // rounding. Summed voices never wrap around.
        let wanted = if peak as f32 * self.gain > 32767.0 {
            32767.0 / peak as f32
        } else {
            (self.gain + RELEASE_PER_FRAME).min(1.0)
        };
        if wanted == 1.0 && self.gain == 1.0 {
            for (o, &s) in self.out.iter_mut().zip(&self.sum) {
                *o = s.clamp(-32768, 32767) as i16;
            }
        } else {
            let n = self.sum.len() as f32;
            for (i, (o, &s)) in self.out.iter_mut().zip(&self.sum).enumerate() {
                let g = self.gain + (wanted - self.gain) * ((i + 1) as f32 / n).min(1.0);
                let g = if wanted < self.gain { wanted } else { g };
                *o = (s as f32 * g).clamp(-32768.0, 32767.0) as i16;
            }
            self.gain = wanted;
        }
        &self.out
    }

    /// Per-track playout statistics, for the call record.
    pub fn track_stats(&self) -> impl Iterator<Item = (&str, crate::jitter::JitterStats)> {
        self.tracks
            .iter()
            .map(|t| (t.key.as_str(), t.playout.jitter_stats()))
    }
}
