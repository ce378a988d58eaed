//! `play_dialtone`: the room hears ringback while the phone rings, so the people waiting
//! know the call is progressing. Made at 8 kHz (a telephone tone needs no more) and sent as
//! the participant's Opus track, one frame per 20 ms.

use std::time::{Duration, Instant};

use sipbridge_media::opus::{EncoderSettings, OpusEncoder};
use sipbridge_media::tone::{Country, Progress, ProgressTone};

use crate::room::RoomHandle;

const RATE: u32 = 8000;
const FRAME: Duration = Duration::from_millis(20);

#[derive(Debug)]
pub(super) struct Ringback {
    tone: ProgressTone,
    encoder: OpusEncoder,
    pcm: Vec<i16>,
    next: Instant,
}

impl Ringback {
    pub(super) fn new(now: Instant, settings: EncoderSettings) -> Option<Self> {
        let encoder = OpusEncoder::new(RATE, settings)
            .inspect_err(|error| tracing::warn!(%error, "no ringback: Opus encoder failed"))
            .ok()?;
        Some(Self {
            tone: ProgressTone::new(Country::Us, Progress::Ringback, RATE),
            pcm: vec![0; encoder.frame_samples()],
            encoder,
            next: now,
        })
    }

    pub(super) fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Sends the frames due by `now`.
    pub(super) fn tick(&mut self, now: Instant, room: &RoomHandle) {
        // After a stall, carry on from now rather than bursting the missed frames.
        if now.saturating_duration_since(self.next) > 5 * FRAME {
            self.next = now;
        }
        while self.next <= now {
            self.next += FRAME;
            self.tone.fill(&mut self.pcm);
            match self.encoder.encode(&self.pcm) {
                Ok(opus) => {
                    room.send_audio(opus.to_vec());
                }
                Err(error) => tracing::debug!(%error, "ringback frame not encoded"),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sipbridge_media::analysis::tone_purity;
    use sipbridge_media::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
    use sipbridge_media::tone::{Country, Progress, ProgressTone};

    /// What the room decodes (48 kHz) carries both ringback frequencies, 440 and 480 Hz,
    /// in about equal measure: half the power each.
    #[test]
    fn ringback_survives_opus() {
        let mut tone = ProgressTone::new(Country::Us, Progress::Ringback, super::RATE);
        let mut encoder = OpusEncoder::new(super::RATE, EncoderSettings::default()).unwrap();
        let mut decoder = OpusDecoder::new(48_000).unwrap();
        let mut pcm = vec![0i16; encoder.frame_samples()];
        let mut heard = Vec::new();
        for _ in 0..75 {
            tone.fill(&mut pcm);
            let packet = encoder.encode(&pcm).unwrap().to_vec();
            heard.extend_from_slice(decoder.decode(&packet).unwrap());
        }
        // One second of the cadence's 2 s "on", after the codec settled.
        let second = &heard[48_000 / 5..48_000 * 6 / 5];
        for hz in [440.0, 480.0] {
            let share = tone_purity(second, 48_000, hz);
            assert!(
                (0.35..0.65).contains(&share),
                "{hz} Hz: {share:.2} of the power"
            );
        }
    }
}
