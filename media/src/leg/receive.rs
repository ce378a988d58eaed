//! Phone → room: RTP in, one 20 ms PCM frame out per tick, DTMF and timeout events.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::{Latch, LegSettings, MediaEvent, MediaTimeout, Negotiated};
use crate::Error;
use crate::codec::Decoder;
use crate::dtmf::DtmfReceiver;
use crate::jitter::JitterStats;
use crate::playout::Playout;
use crate::rtp::{
    PayloadType, ReceiveStats, ReportBlockData, RtpPacket, SeqOutcome, Ssrc, looks_like_rtcp,
};

/// Events held for the call actor; it drains them after every packet, so this is slack.
const EVENT_CAPACITY: usize = 32;

/// Packets the receiver dropped, by reason (each also leaves the call unharmed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    pub malformed: u64,
    /// From an address other than the latched one.
    pub foreign_source: u64,
    /// A payload type that was not negotiated (comfort noise included).
    pub unknown_payload: u64,
    /// RTCP that arrived on the RTP port without rtcp-mux.
    pub rtcp_on_rtp_port: u64,
    pub events_dropped: u64,
}

/// The receiving half of the SIP leg.
#[derive(Debug)]
pub struct PhoneReceiver {
    audio_pt: PayloadType,
    event_pt: Option<PayloadType>,
    rtp_clock: u32,
    source: Option<(Ssrc, ReceiveStats)>,
    playout: Playout,
    dtmf: DtmfReceiver,
    latch: Latch,
    timeout: MediaTimeout,
    events: VecDeque<MediaEvent>,
    stats: ReceiverStats,
}

impl PhoneReceiver {
    pub fn new(
        now: Instant,
        negotiated: &Negotiated,
        settings: &LegSettings,
    ) -> Result<Self, Error> {
        let codec = negotiated.codec;
        let decoder = Decoder::new(codec)?;
        let (clock, rate) = (codec.rtp_clock(), codec.pcm_rate());
        let mut timeout =
            MediaTimeout::new(now, settings.media_timeout, settings.media_timeout_initial);
        timeout.set_expecting(now, negotiated.direction.receives());
        Ok(Self {
            audio_pt: negotiated.payload_type,
            event_pt: negotiated.receive_event_pt,
            rtp_clock: clock,
            source: None,
            playout: Playout::new(decoder, clock, rate, negotiated.ptime_ms, settings.jitter),
            dtmf: DtmfReceiver::new(clock),
            latch: Latch::new(negotiated.remote, settings.latching),
            timeout,
            events: VecDeque::with_capacity(EVENT_CAPACITY),
            stats: ReceiverStats::default(),
        })
    }

    /// Where RTP to the phone goes (the latched source, else the SDP address).
    pub fn destination(&self) -> SocketAddr {
        self.latch.destination()
    }

    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    pub fn jitter_stats(&self) -> JitterStats {
        self.playout.jitter_stats()
    }

    /// Lost packets rebuilt from Opus in-band FEC.
    pub fn fec_recovered(&self) -> u64 {
        self.playout.fec_recovered()
    }

    /// Packets the decoder refused.
    pub fn undecodable(&self) -> u64 {
        self.playout.undecodable()
    }

    /// The current source and its report-block data (starts the next RTCP interval).
    pub fn report(&mut self) -> Option<(Ssrc, ReportBlockData)> {
        self.source
            .as_mut()
            .map(|(ssrc, stats)| (*ssrc, stats.report()))
    }

    /// Reception statistics of the current source.
    pub fn source_stats(&self) -> Option<&ReceiveStats> {
        self.source.as_ref().map(|(_, s)| s)
    }

    /// A re-INVITE changed the direction (hold, resume).
    pub fn set_receiving(&mut self, now: Instant, receiving: bool) {
        self.timeout.set_expecting(now, receiving);
    }

    /// The call is answered now: the media timeout counts from here.
    pub fn restart_timeout(&mut self, now: Instant) {
        self.timeout.restart(now);
    }

    fn push_event(&mut self, event: MediaEvent) {
        push_bounded(&mut self.events, &mut self.stats, event);
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The next instant [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timeout.deadline(), self.dtmf.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(before_first_packet) = self.timeout.check(now) {
            self.push_event(MediaEvent::Timeout {
                before_first_packet,
            });
        }
        if let Some(key) = self.dtmf.poll(now) {
            self.push_event(MediaEvent::Dtmf(key));
        }
    }

    /// Handles one datagram from the RTP socket. Nothing in it can fail the call: bad
    /// packets are counted and dropped.
    pub fn handle_rtp(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if looks_like_rtcp(datagram) {
            self.stats.rtcp_on_rtp_port += 1;
            return;
        }
        let (accepted, latched) = self.latch.accept(source);
        if let Some(address) = latched {
            self.push_event(MediaEvent::Latched(address));
        }
        if !accepted {
            self.stats.foreign_source += 1;
            return;
        }
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.malformed += 1;
            return;
        };
        // Any well-formed RTP from the phone (comfort noise too) shows the media path lives.
        self.timeout.on_packet(now);
        let is_event = Some(packet.payload_type) == self.event_pt;
        if packet.payload_type != self.audio_pt && !is_event {
            self.stats.unknown_payload += 1;
            return;
        }
        let ext_seq = match self.track_source(now, &packet) {
            Some(seq) => seq,
            None => return,
        };
        if is_event {
            let (events, stats) = (&mut self.events, &mut self.stats);
            let parsed = self
                .dtmf
                .on_packet(now, packet.timestamp, packet.payload, |key| {
                    push_bounded(events, stats, MediaEvent::Dtmf(key));
                });
            if parsed.is_err() {
                self.stats.malformed += 1;
            }
        } else {
            self.playout.push(
                now,
                ext_seq,
                packet.timestamp,
                packet.marker,
                packet.payload,
            );
        }
    }

    /// Follows the SSRC and sequence space; `None` drops the packet.
    fn track_source(&mut self, now: Instant, packet: &RtpPacket<'_>) -> Option<u64> {
        let changed = match &self.source {
            Some((ssrc, _)) => *ssrc != packet.ssrc,
            None => true,
        };
        if changed {
            if self.source.is_some() {
                self.playout.reset();
                self.push_event(MediaEvent::SourceChanged(packet.ssrc));
            }
            self.source = Some((
                packet.ssrc,
                ReceiveStats::new(packet.sequence, self.rtp_clock, now),
            ));
        }
        let (_, stats) = self.source.as_mut()?;
        match stats.on_packet(packet.sequence, packet.timestamp, now) {
            SeqOutcome::Accepted(seq) => Some(seq),
            SeqOutcome::Restarted(seq) => {
                self.playout.reset();
                Some(seq)
            }
            SeqOutcome::Ignored => None,
        }
    }

    /// The next 20 ms of the phone's audio; call once per 20 ms tick. Always a full frame:
    /// concealment or silence stands in for audio that has not arrived.
    pub fn poll_frame(&mut self, now: Instant) -> &[i16] {
        self.playout.next_frame(now)
    }
}

/// Queues an event; when the call actor has fallen that far behind, the oldest goes.
fn push_bounded(events: &mut VecDeque<MediaEvent>, stats: &mut ReceiverStats, event: MediaEvent) {
    if events.len() == EVENT_CAPACITY {
        events.pop_front();
        stats.events_dropped += 1;
    }
    events.push_back(event);
}
