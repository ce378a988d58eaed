//! G.711 µ-law and A-law (ITU-T G.711), table driven in both directions.
//!
//! Decoding is a 256-entry table. Encoding indexes a table by the top bits of the sample
//! (14 bits for µ-law, 13 for A-law, the precision G.711 keeps), so both directions are a
//! load per sample. The tables are computed at compile time from the segment formulas.

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, static payload type 0.
    Mu,
    /// PCMA, static payload type 8.
    A,
}

impl Law {
    /// Encodes linear PCM, one byte per sample; writes `min(pcm, out)` samples.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        match self {
            Law::Mu => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = MU_ENCODE[usize::from((s >> 2) as u16 & 0x3fff)];
                }
            }
            Law::A => {
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = A_ENCODE[usize::from((s >> 3) as u16 & 0x1fff)];
                }
            }
        }
        n
    }

    /// Decodes to linear PCM; writes `min(data, out)` samples.
    pub fn decode(self, data: &[u8], out: &mut [i16]) -> usize {
        let table = match self {
            Law::Mu => &MU_DECODE,
            Law::A => &A_DECODE,
        };
        for (o, &b) in out.iter_mut().zip(data) {
            *o = table[usize::from(b)];
        }
        data.len().min(out.len())
    }
}

const MU_BIAS: i32 = 0x84;

const fn mu_decode(byte: u8) -> i16 {
    let b = !byte;
    let exponent = (b >> 4) & 0x07;
    let mantissa = (b & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + MU_BIAS) << exponent) - MU_BIAS;
    (if b & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

/// Segment of a biased magnitude: the number of its bits above the lowest six, capped at 8.
const fn segment(value: i32, first_end: i32) -> u8 {
    let mut seg = 0;
    while seg < 8 && value > (first_end << seg) | ((1 << seg) - 1) {
        seg += 1;
    }
    seg
}

/// µ-law from the 14-bit sample G.711 quantizes (the top 14 bits of ours).
const fn mu_encode(v14: i32) -> u8 {
    let (mask, magnitude) = if v14 < 0 { (0x7f, -v14) } else { (0xff, v14) };
    let clipped = if magnitude > 8159 { 8159 } else { magnitude };
    let biased = clipped + (MU_BIAS >> 2);
    let seg = segment(biased, 0x3f);
    let code = if seg >= 8 {
        0x7f
    } else {
        (seg << 4) | ((biased >> (seg + 1)) & 0x0f) as u8
    };
    code ^ mask
}

const fn a_decode(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if b & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// A-law from the 13-bit sample G.711 quantizes (the top 13 bits of ours).
const fn a_encode(v13: i32) -> u8 {
    let (mask, magnitude) = if v13 >= 0 {
        (0xd5, v13)
    } else {
        (0x55, -v13 - 1)
    };
    let seg = segment(magnitude, 0x1f);
    let code = if seg >= 8 {
        0x7f
    } else if seg < 2 {
        (seg << 4) | ((magnitude >> 1) & 0x0f) as u8
    } else {
        (seg << 4) | ((magnitude >> seg) & 0x0f) as u8
    };
    code ^ mask
}

/// Tabulates a `const fn` over every input: 256 codes for decoding, every two's
/// complement pattern of the reduced-precision sample for encoding (negative samples fill
/// the upper half, matching how [`Law::encode`] indexes).
macro_rules! table {
    (decode $f:ident) => {{
        let mut t = [0i16; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
    (encode $f:ident, $bits:literal) => {{
        let mut t = [0u8; 1 << $bits];
        let mut i = 0;
        while i < t.len() {
            t[i] = $f((i as i32) << (32 - $bits) >> (32 - $bits));
            i += 1;
        }
        t
    }};
}

static MU_DECODE: [i16; 256] = table!(decode mu_decode);
static A_DECODE: [i16; 256] = table!(decode a_decode);
static MU_ENCODE: [u8; 1 << 14] = table!(encode mu_encode, 14);
static A_ENCODE: [u8; 1 << 13] = table!(encode a_encode, 13);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_code_points() {
        // G.711 Table 1/2: silence and the extremes.
        assert_eq!(mu_decode(0xff), 0);
        assert_eq!(mu_decode(0x7f), 0);
        assert_eq!(mu_decode(0x80), 32124);
        assert_eq!(mu_decode(0x00), -32124);
        assert_eq!(a_decode(0xd5), 8);
        assert_eq!(a_decode(0x55), -8);
        assert_eq!(a_decode(0xaa), 32256);
        assert_eq!(a_decode(0x2a), -32256);
        let mut out = [0u8; 5];
        Law::Mu.encode(&[0, i16::MAX, i16::MIN, 8, -8], &mut out);
        assert_eq!(out, [0xff, 0x80, 0x00, 0xfe, 0x7e]);
        Law::A.encode(&[0, i16::MAX, i16::MIN, 8, -8], &mut out);
        assert_eq!(out, [0xd5, 0xaa, 0x2a, 0xd5, 0x55]);
    }

    #[test]
    fn every_code_round_trips_through_the_tables() {
        for law in [Law::Mu, Law::A] {
            for byte in 0..=255u8 {
                let mut pcm = [0i16];
                law.decode(&[byte], &mut pcm);
                let mut back = [0u8];
                law.encode(&pcm, &mut back);
                let mut again = [0i16];
                law.decode(&back, &mut again);
                // µ-law has two zeros (0x7f, 0xff); every other code maps to itself.
                assert_eq!(again, pcm, "{law:?} {byte:#04x}");
            }
        }
    }

    #[test]
    fn quantization_error_stays_within_half_a_step() {
        for law in [Law::Mu, Law::A] {
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let mut code = [0u8];
                law.encode(&[s], &mut code);
                let mut back = [0i16];
                law.decode(&code, &mut back);
                let err = (i32::from(s) - i32::from(back[0])).abs();
                // The largest segment has a step of 1024 (µ) / 1024 (A) in 16-bit units.
                let limit = (i32::from(s).abs() / 16).max(16) + 32;
                assert!(
                    err <= limit.max(520),
                    "{law:?} {s} → {} (err {err})",
                    back[0]
                );
            }
        }
    }
}

#[cfg(test)]
mod snr {
    use super::Law;
    use crate::analysis::tone_snr_db;
    use crate::tone::Sine;

    #[test]
    fn a_tone_keeps_the_snr_of_8_bit_log_pcm() {
        for law in [Law::Mu, Law::A] {
            let pcm: Vec<i16> = (0..50)
                .flat_map(|_| Sine::new(1000.0, 8000, 8000).frame())
                .collect();
            let mut pcm = pcm;
            Sine::new(1000.0, 8000, 8000).fill(&mut pcm);
            let mut coded = vec![0u8; pcm.len()];
            law.encode(&pcm, &mut coded);
            let mut back = vec![0i16; pcm.len()];
            law.decode(&coded, &mut back);
            let snr = tone_snr_db(&back, 8000, 1000.0);
            println!("{law:?}: SNR {snr:.1} dB");
            assert!(snr > 35.0, "{law:?} {snr}");
        }
    }
}
