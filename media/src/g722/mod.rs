//! ITU-T G.722 at 64 kbit/s (mode 1): 7 kHz wideband audio by sub-band ADPCM.
//!
//! A 16 kHz signal is split by a quadrature mirror filter (QMF) into two 8 kHz sub-bands;
//! the lower band is coded with 6-bit and the higher with 2-bit adaptive differential PCM,
//! and each pair of codes goes out as one byte, IH in the top two bits and IL below. RTP
//! carries these bytes as-is (RFC 3551 §4.5.2), with the well-known quirk that the RTP
//! clock runs at 8 kHz although the audio is 16 kHz.
//!
//! The arithmetic is the standard's fixed point, so the output is the same, bit for bit,
//! as other G.722 implementations that follow it; the codec state is plain data with no
//! heap allocation in `encode` or `decode`. Modes 2 and 3 (56 and 48 kbit/s, where the
//! decoder ignores one or two low-band bits) are not offered: SDP's G722/8000 is mode 1.

mod adpcm;
mod qmf;
mod tables;

use adpcm::Band;
use qmf::{Analysis, Synthesis};

/// Reset value of the lower band's scale factor DETL (its minimum).
const DETL_MIN: i32 = 32;
/// Reset value of the higher band's scale factor DETH (its minimum).
const DETH_MIN: i32 = 8;

/// 16 kHz mono PCM -> 64 kbit/s G.722 (one byte per two samples).
#[derive(Debug, Clone)]
pub struct G722Encoder {
    qmf: Analysis,
    low: Band,
    high: Band,
}

impl G722Encoder {
    /// An encoder in the standard's reset state.
    pub const fn new() -> Self {
        Self {
            qmf: Analysis::new(),
            low: Band::new(DETL_MIN),
            high: Band::new(DETH_MIN),
        }
    }

    /// Encodes `pcm` (16 kHz, even length; a trailing odd sample is ignored) into `out`,
    /// returning bytes written (pcm.len()/2). `out` must hold pcm.len()/2 bytes; if it is
    /// shorter, only what fits is encoded.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let mut written = 0;
        for (pair, byte) in pcm.chunks_exact(2).zip(out.iter_mut()) {
            let (xl, xh) = self.qmf.split(pair[0], pair[1]);
            let il = adpcm::encode_low(&mut self.low, xl);
            let ih = adpcm::encode_high(&mut self.high, xh);
            *byte = (ih << 6) | il;
            written += 1;
        }
        written
    }
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

/// 64 kbit/s G.722 -> 16 kHz mono PCM (two samples per byte).
#[derive(Debug, Clone)]
pub struct G722Decoder {
    qmf: Synthesis,
    low: Band,
    high: Band,
}

impl G722Decoder {
    /// A decoder in the standard's reset state.
    pub const fn new() -> Self {
        Self {
            qmf: Synthesis::new(),
            low: Band::new(DETL_MIN),
            high: Band::new(DETH_MIN),
        }
    }

    /// Decodes `data` into `out` (16 kHz), returning samples written (2 per byte, bounded
    /// by out.len()). Bytes are decoded whole: if `out` has an odd length its last sample
    /// is left untouched rather than splitting a byte's pair of samples across calls.
    pub fn decode(&mut self, data: &[u8], out: &mut [i16]) -> usize {
        let mut written = 0;
        for (&byte, pair) in data.iter().zip(out.chunks_exact_mut(2)) {
            let rl = adpcm::decode_low(&mut self.low, byte & 0x3f);
            let rh = adpcm::decode_high(&mut self.high, byte >> 6);
            pair.copy_from_slice(&self.qmf.merge(rl, rh));
            written += 2;
        }
        written
    }
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
