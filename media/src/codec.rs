//! The SIP-leg audio codecs behind one interface, so the leg pipelines do not care which
//! was negotiated.

use crate::Error;
use crate::g711::Law;
use crate::g722::{G722Decoder, G722Encoder};
use crate::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use crate::rtp::PayloadType;

/// An audio codec the SIP leg can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    Pcmu,
    Pcma,
    G722,
    /// `opus/48000/2` (RFC 7587), decoded to mono.
    Opus,
}

impl AudioCodec {
    /// Rate of the PCM the codec takes and gives: what both legs of the call run at, so
    /// that Opus on the room leg needs no resampler.
    pub fn pcm_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
            AudioCodec::G722 => 16_000,
            AudioCodec::Opus => 48_000,
        }
    }

    /// The RTP clock rate; G.722 keeps 8 kHz for historical reasons (RFC 3551 §4.5.2).
    pub fn rtp_clock(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma | AudioCodec::G722 => 8_000,
            AudioCodec::Opus => 48_000,
        }
    }

    /// The static payload type, for codecs that have one (RFC 3551 Table 4).
    pub fn static_payload_type(self) -> Option<PayloadType> {
        match self {
            AudioCodec::Pcmu => Some(PayloadType(0)),
            AudioCodec::Pcma => Some(PayloadType(8)),
            AudioCodec::G722 => Some(PayloadType(9)),
            AudioCodec::Opus => None,
        }
    }
}

/// Decoder for the negotiated codec.
#[derive(Debug)]
pub enum Decoder {
    G711(Law),
    G722(Box<G722Decoder>),
    Opus(Box<OpusDecoder>),
}

impl Decoder {
    pub fn new(codec: AudioCodec) -> Result<Self, Error> {
        Ok(match codec {
            AudioCodec::Pcmu => Decoder::G711(Law::Mu),
            AudioCodec::Pcma => Decoder::G711(Law::A),
            AudioCodec::G722 => Decoder::G722(Box::default()),
            AudioCodec::Opus => Decoder::Opus(Box::new(OpusDecoder::new(codec.pcm_rate())?)),
        })
    }

    /// Decodes one payload, appending the PCM to `out` within its capacity (the caller
    /// reserves room for the longest packet it accepts). Returns samples appended.
    pub fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, Error> {
        let start = out.len();
        let room = out.capacity() - start;
        let n = match self {
            Decoder::G711(law) => {
                out.resize(start + payload.len().min(room), 0);
                law.decode(payload, &mut out[start..])
            }
            Decoder::G722(dec) => {
                out.resize(start + (payload.len() * 2).min(room), 0);
                dec.decode(payload, &mut out[start..])
            }
            Decoder::Opus(dec) => append_within_capacity(dec.decode(payload)?, out),
        };
        out.truncate(start + n);
        Ok(n)
    }

    /// Opus only: rebuilds a lost packet of `samples` from the in-band FEC of the packet
    /// after it (RFC 6716 §2.1.7); `None` when the codec has no FEC or decoding failed.
    pub fn recover_into(
        &mut self,
        next: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Option<usize> {
        let Decoder::Opus(dec) = self else {
            return None;
        };
        Some(append_within_capacity(
            dec.decode_fec(next, samples).ok()?,
            out,
        ))
    }

    /// Opus only: the decoder's own concealment; `None` for the waveform codecs.
    pub fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) -> Option<usize> {
        let Decoder::Opus(dec) = self else {
            return None;
        };
        Some(append_within_capacity(dec.conceal(samples).ok()?, out))
    }
}

/// Appends as much of `pcm` as `out` has capacity for (it never reallocates on the hot
/// path); returns the samples appended.
fn append_within_capacity(pcm: &[i16], out: &mut Vec<i16>) -> usize {
    let n = pcm.len().min(out.capacity() - out.len());
    out.extend_from_slice(&pcm[..n]);
    n
}

/// Encoder for the negotiated codec.
#[derive(Debug)]
pub enum Encoder {
    G711(Law),
    G722(Box<G722Encoder>),
    Opus(Box<OpusEncoder>),
}

impl Encoder {
    pub fn new(codec: AudioCodec, opus: EncoderSettings) -> Result<Self, Error> {
        Ok(match codec {
            AudioCodec::Pcmu => Encoder::G711(Law::Mu),
            AudioCodec::Pcma => Encoder::G711(Law::A),
            AudioCodec::G722 => Encoder::G722(Box::default()),
            AudioCodec::Opus => Encoder::Opus(Box::new(OpusEncoder::new(codec.pcm_rate(), opus)?)),
        })
    }

    /// Encodes one packet's worth of PCM, appending the payload to `out`.
    pub fn encode_into(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        match self {
            Encoder::G711(law) => {
                out.resize(start + pcm.len(), 0);
                law.encode(pcm, &mut out[start..]);
            }
            Encoder::G722(enc) => {
                out.resize(start + pcm.len() / 2, 0);
                enc.encode(pcm, &mut out[start..]);
            }
            Encoder::Opus(enc) => out.extend_from_slice(enc.encode(pcm)?),
        }
        Ok(())
    }
}
