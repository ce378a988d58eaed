//! Tone generation: test tones now, dial tone and ringback later.

use crate::samples_per_frame;

/// A continuous sine wave cut into 20 ms frames, phase-continuous across frames.
#[derive(Debug, Clone)]
pub struct Sine {
    phase: f64,
    step: f64,
    amplitude: f64,
    rate_hz: u32,
}

impl Sine {
    /// A sine of `freq_hz` sampled at `rate_hz` with peak `amplitude` (of i16 full scale).
    pub fn new(freq_hz: f64, rate_hz: u32, amplitude: i16) -> Self {
        let step = std::f64::consts::TAU * freq_hz / f64::from(rate_hz);
        Self {
            phase: 0.0,
            step,
            amplitude: f64::from(amplitude),
            rate_hz,
        }
    }

    /// The next 20 ms of the tone.
    pub fn frame(&mut self) -> Vec<i16> {
        let n = samples_per_frame(self.rate_hz);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            // The amplitude is at most i16::MAX, so the cast cannot overflow.
            out.push((self.phase.sin() * self.amplitude) as i16);
            self.phase = (self.phase + self.step) % std::f64::consts::TAU;
        }
        out
    }
}
