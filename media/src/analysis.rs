//! Measuring a tone in decoded audio: its frequency, how much of the signal it is, and its
//! signal-to-noise ratio. Tests check audio by content with these (the project's rule for audio tests).

/// The frequency of the tone in `samples` (mono, `rate_hz`), from the interval between its
/// first and last upward zero crossing, interpolated between samples. Accurate to a small
/// fraction of a hertz over a second of a clean tone; `tone_purity` says whether it is one.
pub fn tone_frequency(samples: &[i16], rate_hz: u32) -> Option<f64> {
    let mut first = None;
    let mut last = 0.0;
    let mut crossings = 0u32;
    for (i, pair) in samples.windows(2).enumerate() {
        let (a, b) = (f64::from(pair[0]), f64::from(pair[1]));
        if a < 0.0 && b >= 0.0 {
            let at = i as f64 + (-a) / (b - a);
            if first.is_none() {
                first = Some(at);
            } else {
                crossings += 1;
            }
            last = at;
        }
    }
    let first = first?;
    (crossings > 0).then(|| f64::from(crossings) * f64::from(rate_hz) / (last - first))
}

/// The share (0–1) of the signal's power that lies at `freq_hz` (Goertzel); a clean tone is
/// close to 1, noise or a different tone close to 0.
pub fn tone_purity(samples: &[i16], rate_hz: u32, freq_hz: f64) -> f64 {
    let n = samples.len() as f64;
    let coeff = 2.0 * (std::f64::consts::TAU * freq_hz / f64::from(rate_hz)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    let mut total = 0.0;
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let tone_power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / n;
    if total == 0.0 {
        0.0
    } else {
        (tone_power / total).min(1.0)
    }
}

/// Signal-to-noise ratio in dB of a tone at `freq_hz`: the least-squares sine fit at that
/// frequency is the signal, everything else (codec noise, distortion, clicks) the noise.
/// Independent of the tone's phase, so of the delay the path added.
pub fn tone_snr_db(samples: &[i16], rate_hz: u32, freq_hz: f64) -> f64 {
    let w = std::f64::consts::TAU * freq_hz / f64::from(rate_hz);
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &x) in samples.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let x = f64::from(x);
        ss += s * s;
        sc += s * c;
        cc += c * c;
        xs += x * s;
        xc += x * c;
    }
    // Solve the 2×2 normal equations for the sine and cosine amplitudes.
    let det = ss * cc - sc * sc;
    if det.abs() < f64::EPSILON {
        return f64::NEG_INFINITY;
    }
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let (mut signal, mut noise) = (0.0, 0.0);
    for (i, &x) in samples.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let fit = a * s + b * c;
        signal += fit * fit;
        noise += (f64::from(x) - fit).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

/// Root mean square of `samples`.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, rate: u32, seconds: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (10_000.0 * (std::f64::consts::TAU * hz * i as f64 / f64::from(rate)).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn measures_a_tone_and_tells_it_from_another() {
        let tone = sine(440.0, 48_000, 1.0);
        let hz = tone_frequency(&tone, 48_000).unwrap();
        assert!((hz - 440.0).abs() < 0.1, "{hz}");
        assert!(tone_purity(&tone, 48_000, 440.0) > 0.95);
        assert!(tone_purity(&sine(1000.0, 48_000, 1.0), 48_000, 440.0) < 0.01);
        assert_eq!(tone_frequency(&[0; 100], 48_000), None);
        assert!(tone_snr_db(&tone, 48_000, 440.0) > 60.0);
        let mut noisy = tone.clone();
        for (i, x) in noisy.iter_mut().enumerate() {
            *x += if i % 2 == 0 { 1000 } else { -1000 };
        }
        let snr = tone_snr_db(&noisy, 48_000, 440.0);
        assert!((snr - 17.0).abs() < 0.5, "{snr}"); // 10 log10(5e7 / 1e6)
    }
}
