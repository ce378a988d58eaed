//! Opus for the room leg (and, later, as a SIP-leg codec), on the system libopus.
//!
//! The encoder is fed PCM at the rate the other leg has (8 kHz for G.711, 16 kHz for G.722) and
//! the decoder is asked for that rate: Opus resamples internally, so no resampler is needed.
//! On the wire Opus always runs on a 48 kHz RTP clock (RFC 7587 §4.1).

use audiopus::coder::{Decoder, Encoder};
use audiopus::{Application, Channels, SampleRate, packet::Packet};

use crate::{Error, samples_per_frame};

/// RTP clock rate of Opus, whatever the audio bandwidth (RFC 7587 §4.1).
pub const RTP_CLOCK_HZ: u32 = 48_000;

/// The largest Opus packet we produce; RFC 6716 §3.4 caps a packet at 1275 bytes per frame.
const MAX_PACKET: usize = 1500;

/// Longest loss we conceal in one call: 120 ms, the longest Opus packet.
const MAX_DECODE_SAMPLES_48K: usize = 5760;

fn sample_rate(rate_hz: u32) -> Result<SampleRate, Error> {
    Ok(match rate_hz {
        8_000 => SampleRate::Hz8000,
        12_000 => SampleRate::Hz12000,
        16_000 => SampleRate::Hz16000,
        24_000 => SampleRate::Hz24000,
        48_000 => SampleRate::Hz48000,
        other => return Err(Error::UnsupportedOpusRate(other)),
    })
}

/// The bit rate for an input rate. libopus's own default for 8 kHz input is about
/// 11 kbit/s, which audibly degrades the phone's audio: a 1 kHz tone through G.711 → Opus
/// measured 23 dB SNR there and 35 dB at 24 kbit/s. At 48 kHz, 24 kbit/s drops the upper
/// band (a 10 kHz tone vanished), so full-band input gets 48 kbit/s.
pub fn default_bitrate(rate_hz: u32) -> i32 {
    match rate_hz {
        0..=8_000 => 24_000,
        8_001..=16_000 => 32_000,
        _ => 48_000,
    }
}

/// Encoder settings; the defaults are the ones a voice bridge wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSettings {
    /// 0 (fastest) to 10 (best); 5 keeps many calls per core (media issue: "default 5").
    pub complexity: u8,
    /// In-band FEC lets the receiver rebuild a lost packet from the next one.
    pub inband_fec: bool,
    /// Loss the FEC is tuned for, in percent.
    pub expected_loss_percent: u8,
    /// Target bit rate; `None` picks one by input rate (see [`default_bitrate`]).
    pub bitrate_bps: Option<i32>,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            complexity: 5,
            inband_fec: true,
            expected_loss_percent: 5,
            bitrate_bps: None,
        }
    }
}

/// Mono 20 ms Opus encoder at a fixed input rate.
pub struct OpusEncoder {
    inner: Encoder,
    frame_samples: usize,
    out: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("frame_samples", &self.frame_samples)
            .finish()
    }
}

impl OpusEncoder {
    /// An encoder fed mono PCM at `rate_hz`, with VoIP tuning and DTX off: a silent
    /// frame still produces a packet, so the room never mistakes silence for a dead track.
    pub fn new(rate_hz: u32, settings: EncoderSettings) -> Result<Self, Error> {
        let mut inner = Encoder::new(sample_rate(rate_hz)?, Channels::Mono, Application::Voip)?;
        inner.set_complexity(settings.complexity)?;
        let bitrate = settings.bitrate_bps.unwrap_or(default_bitrate(rate_hz));
        inner.set_bitrate(audiopus::Bitrate::BitsPerSecond(bitrate))?;
        inner.set_dtx(false)?;
        // In-band FEC exists only in the SILK layer; the voice hint keeps the encoder in SILK
        // or hybrid mode, never CELT-only.
        inner.set_signal(audiopus::Signal::Voice)?;
        inner.set_inband_fec(settings.inband_fec)?;
        inner.set_packet_loss_perc(settings.expected_loss_percent)?;
        Ok(Self {
            inner,
            frame_samples: samples_per_frame(rate_hz),
            out: vec![0; MAX_PACKET],
        })
    }

    /// Samples one frame must have.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Encodes one frame of 10, 20, 40 or 60 ms (the SIP leg's ptime; the room leg uses
    /// 20 ms); the returned packet borrows an internal buffer.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<&[u8], Error> {
        let ten_ms = self.frame_samples / 2;
        if ![1, 2, 4, 6].contains(&(pcm.len() / ten_ms.max(1)))
            || !pcm.len().is_multiple_of(ten_ms.max(1))
        {
            return Err(Error::FrameLength {
                expected: self.frame_samples,
                got: pcm.len(),
            });
        }
        let n = self.inner.encode(pcm, &mut self.out)?;
        Ok(&self.out[..n])
    }
}

/// Mono Opus decoder producing PCM at a fixed output rate.
pub struct OpusDecoder {
    inner: Decoder,
    rate_hz: u32,
    out: Vec<i16>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate_hz", &self.rate_hz)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder whose output is mono PCM at `rate_hz` (a stereo stream is downmixed by libopus).
    pub fn new(rate_hz: u32) -> Result<Self, Error> {
        let inner = Decoder::new(sample_rate(rate_hz)?, Channels::Mono)?;
        let max = MAX_DECODE_SAMPLES_48K * rate_hz as usize / 48_000;
        Ok(Self {
            inner,
            rate_hz,
            out: vec![0; max],
        })
    }

    /// Decodes one packet. An error means the packet is not valid Opus; the caller drops it
    /// and conceals the gap with [`Self::conceal`].
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], Error> {
        let packet = Packet::try_from(packet)?;
        let out = (&mut self.out[..]).try_into()?;
        let n = self.inner.decode(Some(packet), out, false)?;
        Ok(&self.out[..n])
    }

    /// Rebuilds `samples` of a lost packet from the in-band FEC data of `next`, the packet
    /// after it; without FEC data in `next` libopus falls back to its PLC.
    pub fn decode_fec(&mut self, next: &[u8], samples: usize) -> Result<&[i16], Error> {
        let packet = Packet::try_from(next)?;
        let samples = samples.min(self.out.len());
        let out = (&mut self.out[..samples]).try_into()?;
        let n = self.inner.decode(Some(packet), out, true)?;
        Ok(&self.out[..n])
    }

    /// Produces `samples` of concealment for a lost packet (Opus PLC).
    pub fn conceal(&mut self, samples: usize) -> Result<&[i16], Error> {
        let samples = samples.min(self.out.len());
        let out = (&mut self.out[..samples]).try_into()?;
        let n = self.inner.decode(None, out, false)?;
        Ok(&self.out[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::Sine;

    #[test]
    fn a_frame_round_trips_at_each_leg_rate() {
        for rate in [8_000, 16_000, 48_000] {
            let mut enc = OpusEncoder::new(rate, EncoderSettings::default()).unwrap();
            let mut dec = OpusDecoder::new(rate).unwrap();
            let mut sine = Sine::new(440.0, rate, 8_000);
            let mut decoded = 0;
            for _ in 0..10 {
                let frame = sine.frame();
                let packet = enc.encode(&frame).unwrap().to_vec();
                decoded = dec.decode(&packet).unwrap().len();
            }
            assert_eq!(decoded, samples_per_frame(rate), "rate {rate}");
        }
    }

    #[test]
    fn wrong_frame_length_and_garbage_packets_are_errors() {
        let mut enc = OpusEncoder::new(8_000, EncoderSettings::default()).unwrap();
        assert!(matches!(
            enc.encode(&[0; 10]),
            Err(Error::FrameLength {
                expected: 160,
                got: 10
            })
        ));
        let mut dec = OpusDecoder::new(8_000).unwrap();
        assert!(dec.decode(&[]).is_err());
        assert_eq!(dec.conceal(160).unwrap().len(), 160);
        assert!(matches!(
            OpusEncoder::new(44_100, EncoderSettings::default()),
            Err(Error::UnsupportedOpusRate(44_100))
        ));
    }
}
