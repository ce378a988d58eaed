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
