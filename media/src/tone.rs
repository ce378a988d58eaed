//! Tone generation: test tones, DTMF dual tones, and the call-progress tones (dial tone,
//! ringback, busy) of a few national plans, with their cadences.

/// A continuous sine wave, phase-continuous across frames.
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

    fn next_sample(&mut self) -> f64 {
        let s = self.phase.sin() * self.amplitude;
        self.phase = (self.phase + self.step) % std::f64::consts::TAU;
        s
    }

    /// Overwrites `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out {
            // The amplitude is at most i16::MAX, so the cast cannot overflow.
            *o = self.next_sample() as i16;
        }
    }

    /// The next 20 ms of the tone, in a new buffer (tests and examples).
    pub fn frame(&mut self) -> Vec<i16> {
        let mut out = vec![0; crate::samples_per_frame(self.rate_hz)];
        self.fill(&mut out);
        out
    }
}

/// Two sines summed (DTMF, and most call-progress tones).
#[derive(Debug, Clone)]
pub struct DualTone {
    low: Sine,
    high: Option<Sine>,
}

impl DualTone {
    /// `high` of `None` makes a single tone (e.g. the European 425 Hz).
    pub fn new(low_hz: f64, high_hz: Option<f64>, rate_hz: u32, amplitude: i16) -> Self {
        Self {
            low: Sine::new(low_hz, rate_hz, amplitude),
            high: high_hz.map(|f| Sine::new(f, rate_hz, amplitude)),
        }
    }

    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out {
            let high = self.high.as_mut().map_or(0.0, Sine::next_sample);
            *o = (self.low.next_sample() + high).clamp(-32768.0, 32767.0) as i16;
        }
    }
}

/// National call-progress tone plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    /// North America (ANSI T1.401 precise tones).
    Us,
    /// The CEPT/ETSI plan used across continental Europe (ETSI TR 101 041).
    Eu,
    /// United Kingdom (BT SIN 350).
    Uk,
}

/// Which call-progress tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Dial,
    Ringback,
    Busy,
}

/// Frequencies and on/off cadence (milliseconds, alternating on, off; empty = continuous).
fn plan(country: Country, tone: Progress) -> (f64, Option<f64>, &'static [u32]) {
    match (country, tone) {
        (Country::Us, Progress::Dial) => (350.0, Some(440.0), &[]),
        (Country::Us, Progress::Ringback) => (440.0, Some(480.0), &[2000, 4000]),
        (Country::Us, Progress::Busy) => (480.0, Some(620.0), &[500, 500]),
        (Country::Eu, Progress::Dial) => (425.0, None, &[]),
        (Country::Eu, Progress::Ringback) => (425.0, None, &[1000, 4000]),
        (Country::Eu, Progress::Busy) => (425.0, None, &[500, 500]),
        (Country::Uk, Progress::Dial) => (350.0, Some(450.0), &[]),
        (Country::Uk, Progress::Ringback) => (400.0, Some(450.0), &[400, 200, 400, 2000]),
        (Country::Uk, Progress::Busy) => (400.0, None, &[375, 375]),
    }
}

/// A call-progress tone with its cadence, produced sample by sample.
#[derive(Debug, Clone)]
pub struct ProgressTone {
    tone: DualTone,
    cadence: &'static [u32],
    samples_per_ms: u32,
    /// Position in the cadence cycle, in samples.
    position: u64,
    cycle: u64,
}

impl ProgressTone {
    /// About -13 dBm0 per frequency, the level plans specify within a few dB.
    const AMPLITUDE: i16 = 2600;

    pub fn new(country: Country, tone: Progress, rate_hz: u32) -> Self {
        let (low, high, cadence) = plan(country, tone);
        let samples_per_ms = rate_hz / 1000;
        Self {
            tone: DualTone::new(low, high, rate_hz, Self::AMPLITUDE),
            cadence,
            samples_per_ms,
            position: 0,
            cycle: cadence
                .iter()
                .map(|&ms| u64::from(ms * samples_per_ms))
                .sum(),
        }
    }

    /// Overwrites `out` with the next samples: tone during "on" periods, silence otherwise.
    pub fn fill(&mut self, out: &mut [i16]) {
        self.tone.fill(out);
        if self.cycle == 0 {
            return;
        }
        for o in out {
            let mut at = self.position % self.cycle;
            let mut on = true;
            for &ms in self.cadence {
                let len = u64::from(ms * self.samples_per_ms);
                if at < len {
                    break;
                }
                at -= len;
                on = !on;
            }
            if !on {
                *o = 0;
            }
            self.position += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_fraction(mut tone: ProgressTone, ms: usize) -> f64 {
        let mut out = vec![0i16; ms * 8];
        tone.fill(&mut out);
        // Count 1 ms blocks with any energy.
        let on = out.chunks(8).filter(|b| b.iter().any(|&s| s != 0)).count();
        on as f64 / ms as f64
    }

    #[test]
    fn cadences_follow_the_plans() {
        let f = |c, t| on_fraction(ProgressTone::new(c, t, 8000), 6000);
        assert_eq!(f(Country::Us, Progress::Dial), 1.0);
        assert!((f(Country::Us, Progress::Ringback) - 2.0 / 6.0).abs() < 0.01);
        assert!((f(Country::Eu, Progress::Ringback) - 2.0 / 6.0).abs() < 0.01);
        assert!((f(Country::Uk, Progress::Ringback) - 0.8 / 3.0).abs() < 0.01);
        assert!((f(Country::Eu, Progress::Busy) - 0.5).abs() < 0.01);
    }

    #[test]
    fn dual_tones_stay_in_range() {
        let mut t = DualTone::new(697.0, Some(1209.0), 8000, i16::MAX);
        let mut out = [0i16; 800];
        t.fill(&mut out);
        assert!(out.iter().any(|&s| s > 30000));
    }
}
