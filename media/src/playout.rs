//! Jitter buffer + decoder + concealment: one stream's packets in, one 20 ms PCM frame per
//! tick out. Used for the phone's stream and for each room track.

use std::time::Instant;

use crate::codec::Decoder;
use crate::jitter::{JitterBuffer, JitterLimits, JitterStats, Pop, Pushed};
use crate::plc::Plc;
use crate::{FRAME_MS, samples_per_frame};

/// Decoded audio held between packets and frames: a 60 ms packet, a frame, and margin for
/// the 120 ms Opus packets RFC 7587 allows.
const PCM_BUFFER_MS: u32 = 160;
/// After this much starvation (DTX, a muted or silent track) the stream is plain silence:
/// concealment has faded out by then, and skipping it saves the decoder's work.
const SILENT_AFTER_FRAMES: u32 = 6;

/// Playout of one stream.
#[derive(Debug)]
pub struct Playout {
    jitter: JitterBuffer,
    decoder: Decoder,
    /// Waveform-codec concealment; Opus conceals in its decoder.
    plc: Option<Plc>,
    rtp_clock: u32,
    pcm_rate: u32,
    pcm: Vec<i16>,
    frame: Vec<i16>,
    starved_frames: u32,
    undecodable: u64,
    fec_recovered: u64,
}

impl Playout {
    /// Playout of a stream on RTP clock `rtp_clock`, decoded by `decoder` to `pcm_rate`.
    pub fn new(
        decoder: Decoder,
        rtp_clock: u32,
        pcm_rate: u32,
        packet_ms: u32,
        limits: JitterLimits,
    ) -> Self {
        let plc = (!matches!(decoder, Decoder::Opus(_))).then(|| Plc::new(pcm_rate));
        let frame = samples_per_frame(pcm_rate);
        Self {
            jitter: JitterBuffer::new(rtp_clock, packet_ms, limits),
            decoder,
            plc,
            rtp_clock,
            pcm_rate,
            pcm: Vec::with_capacity(frame * (PCM_BUFFER_MS / FRAME_MS) as usize),
            frame: vec![0; frame],
            starved_frames: 0,
            undecodable: 0,
            fec_recovered: 0,
        }
    }

    pub fn push(
        &mut self,
        now: Instant,
        seq: u64,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Pushed {
        self.jitter.push(now, seq, timestamp, marker, payload)
    }

    /// The stream restarted (new SSRC, sequence jump): drop what is buffered.
    pub fn reset(&mut self) {
        self.jitter.reset();
    }

    pub fn jitter_stats(&self) -> JitterStats {
        self.jitter.stats()
    }

    /// Packets the decoder refused.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Lost packets rebuilt from the next packet's Opus in-band FEC.
    pub fn fec_recovered(&self) -> u64 {
        self.fec_recovered
    }

    /// Whether the stream has been starved long enough to be silence.
    pub fn is_silent(&self) -> bool {
        self.starved_frames >= SILENT_AFTER_FRAMES
    }

    /// The next 20 ms; always a full frame, concealment or silence standing in for audio
    /// that has not arrived.
    pub fn next_frame(&mut self, now: Instant) -> &[i16] {
        let frame_len = self.frame.len();
        let mut starved = false;
        while self.pcm.len() < frame_len {
            let missing = frame_len - self.pcm.len();
            match self.jitter.pop(now) {
                Pop::Packet { payload, .. } => {
                    let start = self.pcm.len();
                    if self.decoder.decode_into(payload, &mut self.pcm).is_ok() {
                        if let Some(plc) = &mut self.plc {
                            plc.good(&mut self.pcm[start..]);
                        }
                    } else {
                        self.undecodable += 1;
                        let ticks = self.jitter.packet_ticks();
                        let samples = ticks_to_samples(ticks, self.rtp_clock, self.pcm_rate);
                        conceal(
                            &mut self.decoder,
                            &mut self.plc,
                            &mut self.pcm,
                            samples,
                            None,
                        );
                    }
                }
                Pop::Lost { ticks, next, .. } => {
                    let samples = ticks_to_samples(ticks, self.rtp_clock, self.pcm_rate);
                    let how = conceal(
                        &mut self.decoder,
                        &mut self.plc,
                        &mut self.pcm,
                        samples,
                        next,
                    );
                    self.fec_recovered += u64::from(how == Concealed::Fec);
                }
                Pop::Starved => {
                    starved = true;
                    if self.is_silent() {
                        self.pcm.resize(self.pcm.len() + missing, 0);
                    } else {
                        conceal(
                            &mut self.decoder,
                            &mut self.plc,
                            &mut self.pcm,
                            missing,
                            None,
                        );
                    }
                }
            }
        }
        self.starved_frames = if starved {
            self.starved_frames.saturating_add(1)
        } else {
            0
        };
        self.frame.copy_from_slice(&self.pcm[..frame_len]);
        self.pcm.drain(..frame_len);
        &self.frame
    }
}

fn ticks_to_samples(ticks: u32, rtp_clock: u32, pcm_rate: u32) -> usize {
    (u64::from(ticks) * u64::from(pcm_rate) / u64::from(rtp_clock.max(1))) as usize
}

#[derive(Debug, PartialEq, Eq)]
enum Concealed {
    Fec,
    Other,
}

/// Appends `samples` of concealment: Opus FEC from the next packet or Opus PLC, else
/// waveform repetition. Bounded by the buffer's capacity.
fn conceal(
    decoder: &mut Decoder,
    plc: &mut Option<Plc>,
    pcm: &mut Vec<i16>,
    samples: usize,
    next: Option<&[u8]>,
) -> Concealed {
    let samples = samples.min(pcm.capacity() - pcm.len());
    let start = pcm.len();
    let recovered = next.and_then(|n| decoder.recover_into(n, samples, pcm));
    let by_opus = recovered.is_some() || decoder.conceal_into(samples, pcm).is_some();
    pcm.resize(start + samples, 0);
    if let (false, Some(plc)) = (by_opus, plc) {
        plc.conceal(&mut pcm[start..]);
    }
    if recovered.is_some() {
        Concealed::Fec
    } else {
        Concealed::Other
    }
}
