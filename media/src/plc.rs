//! Packet loss concealment for the waveform codecs (G.711, G.722) by pitch-period
//! repetition, after ITU-T G.711 Appendix I: find the pitch of the last good audio, repeat
//! its last period(s), widen to two and three periods as the erasure goes on (a single
//! repeated period turns buzzy), fade out from 10 ms at 20 % per 10 ms to silence at
//! 60 ms, and cross-fade into the first good audio after the gap.
//!
//! Opus conceals with its own decoder (PLC and in-band FEC) and does not use this.

/// History kept for pitch search: 48.75 ms, as in Appendix I.
const HISTORY_MS_X100: usize = 4875;
/// Pitch search range, 5 to 15 ms (200 Hz down to 66 Hz).
const PITCH_MIN_MS_X10: usize = 50;
const PITCH_MAX_MS_X10: usize = 150;
/// Correlation window: the last 10 ms.
const CORR_MS: usize = 10;

/// Concealment state for one stream of mono PCM.
#[derive(Debug, Clone)]
pub struct Plc {
    rate_per_ms: usize,
    /// The most recent good (or concealed) samples, oldest first.
    history: Vec<i16>,
    /// Snapshot of the history taken when an erasure starts, repeated from its end.
    pitch_source: Vec<i16>,
    pitch: usize,
    /// Samples concealed in the current erasure; 0 while audio is good.
    erased: usize,
    /// Where the synthetic signal is within its repeated span.
    position: usize,
}

impl Plc {
    /// Concealment for mono PCM at `rate_hz` (8 or 16 kHz in practice).
    pub fn new(rate_hz: u32) -> Self {
        let rate_per_ms = (rate_hz / 1000).max(1) as usize;
        let len = HISTORY_MS_X100 * rate_per_ms / 100;
        Self {
            rate_per_ms,
            history: vec![0; len],
            pitch_source: vec![0; len],
            pitch: PITCH_MIN_MS_X10 * rate_per_ms / 10,
            erased: 0,
            position: 0,
        }
    }

    /// Records good audio; after an erasure, first cross-fades it with the continuation of
    /// the synthetic signal so the join does not click (Appendix I, end of erasure).
    pub fn good(&mut self, pcm: &mut [i16]) {
        if self.erased > 0 {
            // 4 ms, plus 4 ms per further 10 ms of erasure, at most 10 ms (Appendix I).
            let ms = (4 + 4 * (self.erased / (10 * self.rate_per_ms)).saturating_sub(1)).min(10);
            let len = (ms * self.rate_per_ms).min(pcm.len());
            for (i, sample) in pcm.iter_mut().take(len).enumerate() {
                let synthetic = f32::from(self.next_synthetic());
                let w = (i + 1) as f32 / (len + 1) as f32;
                *sample = (f32::from(*sample) * w + synthetic * (1.0 - w)) as i16;
            }
            self.erased = 0;
        }
        self.remember(pcm);
    }

    /// Fills `out` with concealment for lost audio.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.erased == 0 {
            self.pitch = self.find_pitch();
            self.pitch_source.copy_from_slice(&self.history);
            self.position = 0;
        }
        for o in out.iter_mut() {
            *o = self.next_synthetic();
        }
        self.remember(out);
    }

    /// The next concealment sample: repeat the last 1, 2 or 3 pitch periods, faded.
    fn next_synthetic(&mut self) -> i16 {
        let ten_ms = 10 * self.rate_per_ms;
        let periods = (1 + self.erased / ten_ms).min(3);
        let span = (periods * self.pitch).min(self.pitch_source.len());
        let start = self.pitch_source.len() - span;
        let sample = self.pitch_source[start + self.position % span];
        self.position += 1;
        // Full level for the first 10 ms, then down 20 % per 10 ms: silent at 60 ms.
        let fade_steps = self.erased.saturating_sub(ten_ms);
        let gain = 1.0 - 0.2 * fade_steps as f32 / ten_ms as f32;
        self.erased += 1;
        (f32::from(sample) * gain.max(0.0)) as i16
    }

    fn remember(&mut self, pcm: &[i16]) {
        let len = self.history.len();
        if pcm.len() >= len {
            self.history.copy_from_slice(&pcm[pcm.len() - len..]);
        } else {
            self.history.copy_within(pcm.len().., 0);
            self.history[len - pcm.len()..].copy_from_slice(pcm);
        }
    }

    /// The lag with the highest normalized correlation between the last 10 ms and the
    /// audio one lag earlier: a coarse search on every other lag and sample, then ±1.
    fn find_pitch(&self) -> usize {
        let min = PITCH_MIN_MS_X10 * self.rate_per_ms / 10;
        let max = PITCH_MAX_MS_X10 * self.rate_per_ms / 10;
        let window = CORR_MS * self.rate_per_ms;
        let end = self.history.len();
        let score = |lag: usize, step: usize| -> f32 {
            let (mut cross, mut energy) = (0.0f32, 1.0f32);
            for i in (end - window..end).step_by(step) {
                let a = f32::from(self.history[i]);
                let b = f32::from(self.history[i - lag]);
                cross += a * b;
                energy += b * b;
            }
            cross / energy.sqrt()
        };
        let best_coarse = (min..=max)
            .step_by(2)
            .max_by(|&a, &b| score(a, 2).total_cmp(&score(b, 2)))
            .unwrap_or(min);
        (best_coarse.saturating_sub(1).max(min)..=(best_coarse + 1).min(max))
            .max_by(|&a, &b| score(a, 1).total_cmp(&score(b, 1)))
            .unwrap_or(best_coarse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::Sine;

    #[test]
    fn finds_the_pitch_of_a_voiced_tone() {
        let mut plc = Plc::new(8000);
        let mut sine = Sine::new(100.0, 8000, 8000); // a 10 ms period
        for _ in 0..5 {
            plc.good(&mut sine.frame());
        }
        assert_eq!(plc.find_pitch(), 80);
    }

    #[test]
    fn conceals_with_the_same_tone_then_fades_to_silence() {
        let mut plc = Plc::new(8000);
        let mut sine = Sine::new(200.0, 8000, 8000);
        for _ in 0..5 {
            plc.good(&mut sine.frame());
        }
        let mut expected = sine.frame();
        let mut concealed = vec![0i16; 160];
        plc.conceal(&mut concealed);
        // The first 10 ms continue the waveform almost exactly (the period divides 5 ms).
        let err: i32 = (0..80)
            .map(|i| (i32::from(concealed[i]) - i32::from(expected[i])).abs())
            .max()
            .unwrap();
        assert!(err < 200, "max error {err}");
        for _ in 0..3 {
            plc.conceal(&mut concealed);
        }
        assert!(concealed.iter().all(|&s| s == 0), "silent from 60 ms on");
        // Good audio after the gap starts from the synthetic signal, not with a jump.
        plc.good(&mut expected);
        assert!(i32::from(expected[0]).abs() < 400);
    }
}
