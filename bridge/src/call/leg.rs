//! The SIP leg's audio as a call task drives it: the RTP and RTCP sockets, the media
//! pipeline, and the counts for metrics. Used while the phone rings with early media and
//! once the call is answered.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sipbridge_media::leg::MediaEvent;

use super::media::CallMedia;
use super::ports::RtpSockets;
use super::tally::RtpTally;
use crate::metrics::{FROM_PHONE, Metrics, TO_PHONE};
use crate::room::RoomHandle;

#[derive(Debug)]
pub struct MediaLeg {
    pub media: CallMedia,
    pub sockets: RtpSockets,
    tally: RtpTally,
    rtp_buffer: Vec<u8>,
    rtcp_buffer: Vec<u8>,
    events: Vec<MediaEvent>,
}

fn wallclock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl MediaLeg {
    pub fn new(media: CallMedia, sockets: RtpSockets, now: Instant) -> Self {
        Self {
            media,
            sockets,
            tally: RtpTally::new(now),
            rtp_buffer: vec![0; 2048],
            rtcp_buffer: vec![0; 1500],
            events: Vec::new(),
        }
    }

    /// Waits for one datagram on either socket and feeds it to the pipeline. Safe to cancel
    /// (in a `select!`): a UDP receive either happened whole or not at all.
    pub async fn receive(&mut self) {
        tokio::select! {
            received = self.sockets.rtp.recv_from(&mut self.rtp_buffer) => {
                if let Ok((len, source)) = received {
                    self.tally.received(len);
                    self.media.handle_rtp(Instant::now(), source, &self.rtp_buffer[..len]);
                }
            }
            received = self.sockets.rtcp.recv_from(&mut self.rtcp_buffer) => {
                if let Ok((len, _)) = received {
                    self.media.handle_rtcp(Instant::now(), wallclock(), &self.rtcp_buffer[..len]);
                }
            }
        }
    }

    /// [`MediaLeg::receive`] on a leg that may not run (yet): without one, pending forever,
    /// so a `select!` branch over it simply never fires.
    pub async fn receive_if_any(leg: Option<&mut Self>) {
        match leg {
            Some(leg) => leg.receive().await,
            None => std::future::pending().await,
        }
    }

    /// When the pipeline next needs [`MediaLeg::pump`].
    pub fn poll_timeout(&self) -> Instant {
        self.media.poll_timeout()
    }

    /// Frames due go to the room (when the caller is in one), packets to the phone, RTCP
    /// out; returns what the pipeline noticed (DTMF, media timeout) for the call to act on.
    pub fn pump(
        &mut self,
        now: Instant,
        room: Option<&RoomHandle>,
        metrics: &Metrics,
    ) -> &[MediaEvent] {
        while self.media.tick_due(now) {
            match self.media.tick(now) {
                Ok(opus) => {
                    if let Some(room) = room {
                        room.send_audio(opus);
                    }
                }
                Err(error) => tracing::warn!(%error, "media frame failed"),
            }
            while let Some((packet, destination)) = self.media.poll_rtp() {
                self.tally.sent(packet.len());
                let _ = self.sockets.rtp.try_send_to(packet, destination);
            }
        }
        self.media.handle_timeout(now);
        if let Some((report, destination)) = self.media.poll_rtcp(now, wallclock()) {
            let _ = self.sockets.rtcp.try_send_to(report, destination);
        }
        self.tally.flush(now, metrics, false);
        self.events.clear();
        while let Some(event) = self.media.poll_event() {
            self.events.push(event);
        }
        &self.events
    }

    /// The leg is over: the last counts, loss and jitter go to the metrics.
    pub fn finish(&mut self, metrics: &Metrics) {
        self.tally.flush(Instant::now(), metrics, true);
        if let Some((lost, jitter)) = self.media.receive_summary() {
            metrics.rtp_stream_ended(FROM_PHONE, lost, jitter);
        }
        if let Some((lost, jitter)) = self.media.send_summary() {
            metrics.rtp_stream_ended(TO_PHONE, lost, jitter);
        }
    }
}
