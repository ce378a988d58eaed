//! The media of one call, sans-IO: the phone's RTP in and out (`media::leg`), the room's
//! tracks mixed for the phone, and the phone's audio encoded for the room. The call task
//! owns the sockets and calls these methods; everything here is (packets, time) → packets.
//!
//! This is also where the two sans-IO crates meet: signaling's SDP settles a
//! `sdp::Negotiated`, which `media_leg` turns into the media leg's own description.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipbridge_media::Error;
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::{
    self, LegSettings, MediaEvent, PhoneReceiver, PhoneSender, RtcpSession,
};
use sipbridge_media::mixer::Mixer;
use sipbridge_media::opus::OpusEncoder;
use sipbridge_media::rtp::{PayloadType, Ssrc};
use sipbridge_media::tone::{Country, Progress, ProgressTone};
use sipbridge_signaling::sdp;

use crate::room::RemoteAudio;

const TICK: Duration = Duration::from_millis(sipbridge_media::FRAME_MS as u64);

/// What signaling negotiated, as the media leg's description: the one place where SDP's
/// values become media's.
fn media_leg(negotiated: &sdp::Negotiated) -> leg::Negotiated {
    let pt = |pt: sdp::PayloadType| PayloadType(pt.0);
    leg::Negotiated {
        codec: audio_codec(negotiated.codec),
        payload_type: pt(negotiated.payload_type),
        receive_event_pt: negotiated.receive_event_pt.map(pt),
        send_event_pt: negotiated.send_event_pt.map(pt),
        ptime_ms: negotiated.ptime_ms,
        direction: match negotiated.direction {
            sdp::MediaDirection::SendRecv => leg::Direction::SendRecv,
            sdp::MediaDirection::SendOnly => leg::Direction::SendOnly,
            sdp::MediaDirection::RecvOnly => leg::Direction::RecvOnly,
            sdp::MediaDirection::Inactive => leg::Direction::Inactive,
        },
        remote: negotiated.remote,
    }
}

fn audio_codec(codec: sdp::Codec) -> AudioCodec {
    match codec {
        sdp::Codec::Pcmu => AudioCodec::Pcmu,
        sdp::Codec::Pcma => AudioCodec::Pcma,
        sdp::Codec::G722 => AudioCodec::G722,
        sdp::Codec::Opus => AudioCodec::Opus,
    }
}

/// Random starting values of our RTP stream (RFC 3550 §5.1), drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub struct StreamStart {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

impl StreamStart {
    /// Fresh random values for a new stream.
    pub fn random() -> Self {
        Self {
            ssrc: rand::random(),
            sequence: rand::random(),
            timestamp: rand::random(),
        }
    }
}

#[derive(Debug)]
pub struct CallMedia {
    receiver: PhoneReceiver,
    sender: PhoneSender,
    rtcp: RtcpSession,
    rtcp_cname: String,
    /// The phone's audio, at the SIP codec's PCM rate, as Opus for our room track.
    to_room: OpusEncoder,
    /// Every room track, decoded at the SIP codec's PCM rate and summed for the phone.
    mixer: Mixer,
    next_tick: Instant,
    /// What the media was set up with, to tell what a re-INVITE changed.
    negotiated: sdp::Negotiated,
    settings: LegSettings,
    /// A tone played to the phone instead of the room's mix (the PIN prompt).
    prompt: Option<ProgressTone>,
    prompt_frame: Vec<i16>,
}

impl CallMedia {
    pub fn new(
        now: Instant,
        negotiated: &sdp::Negotiated,
        settings: &LegSettings,
        start: StreamStart,
        cname: &str,
    ) -> Result<Self, Error> {
        let leg = media_leg(negotiated);
        let rate = leg.codec.pcm_rate();
        Ok(Self {
            receiver: PhoneReceiver::new(now, &leg, settings)?,
            sender: PhoneSender::new(
                &leg,
                settings,
                Ssrc(start.ssrc),
                start.sequence,
                start.timestamp,
            )?,
            rtcp: RtcpSession::new(now, cname),
            rtcp_cname: cname.to_owned(),
            to_room: OpusEncoder::new(rate, settings.opus)?,
            mixer: Mixer::new(rate, settings.jitter),
            next_tick: now + TICK,
            negotiated: *negotiated,
            settings: *settings,
            prompt: None,
            prompt_frame: vec![0; sipbridge_media::samples_per_frame(rate)],
        })
    }

    /// The pipeline for a negotiated leg with the configured `rtp:` settings and a new
    /// random stream toward the phone.
    pub fn for_leg(
        now: Instant,
        negotiated: &sdp::Negotiated,
        rtp: &sipbridge_config::Rtp,
        cname: &str,
    ) -> Result<Self, Error> {
        let settings = super::settings::leg_settings(rtp);
        Self::new(now, negotiated, &settings, StreamStart::random(), cname)
    }

    pub fn handle_rtp(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        self.receiver.handle_rtp(now, source, datagram);
    }

    /// `wallclock` is the time since the Unix epoch, for RTCP's NTP fields.
    pub fn handle_rtcp(&mut self, now: Instant, wallclock: Duration, datagram: &[u8]) {
        self.rtcp
            .handle_rtcp(now, wallclock, self.sender.ssrc(), datagram);
    }

    /// One Opus packet of a room track; a track seen for the first time joins the mix.
    pub fn handle_room_audio(&mut self, now: Instant, audio: &RemoteAudio) {
        // RTP time is extended to 64 bits by the room side; the playout buffer wants the
        // wire's 32 (it unwraps them itself).
        let rtp_time = audio.rtp_time as u32;
        if self
            .mixer
            .push(now, &audio.track_sid, audio.seq, rtp_time, &audio.opus)
            .is_none()
            && self.mixer.add_track(&audio.track_sid).is_ok()
        {
            let _ = self
                .mixer
                .push(now, &audio.track_sid, audio.seq, rtp_time, &audio.opus);
        }
    }

    pub fn remove_track(&mut self, track_sid: &str) {
        self.mixer.remove_track(track_sid);
    }

    /// When [`CallMedia::tick`] or [`CallMedia::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.next_tick.min(self.rtcp.poll_timeout());
        if let Some(receiver) = self.receiver.poll_timeout() {
            next = next.min(receiver);
        }
        next
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.receiver.handle_timeout(now);
    }

    /// Whether a 20 ms frame is due.
    pub fn tick_due(&self, now: Instant) -> bool {
        now >= self.next_tick
    }

    /// Moves one 20 ms frame each way: the phone's next frame, encoded for the room (the
    /// returned packet), and the room's mix, packetized for the phone (then
    /// [`CallMedia::poll_rtp`]). The schedule advances by exactly 20 ms, so a late tick is
    /// caught up on the next call rather than lost.
    pub fn tick(&mut self, now: Instant) -> Result<Vec<u8>, Error> {
        self.next_tick += TICK;
        if self.next_tick + 5 * TICK < now {
            // The task was stalled for more than 100 ms: restart the schedule instead of
            // bursting the backlog at the phone.
            self.next_tick = now + TICK;
        }
        let mix = self.mixer.mix(now);
        match self.prompt.as_mut() {
            Some(prompt) => {
                prompt.fill(&mut self.prompt_frame);
                self.sender.push_frame(&self.prompt_frame)?;
            }
            None => self.sender.push_frame(mix)?,
        }
        let frame = self.receiver.poll_frame(now);
        Ok(self.to_room.encode(frame)?.to_vec())
    }

    /// The next RTP packet for the phone and where it goes.
    pub fn poll_rtp(&mut self) -> Option<(&[u8], SocketAddr)> {
        let destination = self.receiver.destination();
        self.sender
            .poll_packet()
            .map(|packet| (packet, destination))
    }

    /// Our RTCP report when one is due, for the port above the phone's RTP port.
    pub fn poll_rtcp(&mut self, now: Instant, wallclock: Duration) -> Option<(&[u8], SocketAddr)> {
        let mut destination = self.receiver.destination();
        destination.set_port(destination.port().wrapping_add(1));
        self.rtcp
            .poll_report(now, wallclock, &mut self.receiver, &self.sender)
            .map(|report| (report, destination))
    }

    /// The phone's stream so far: packets lost (RFC 3550 A.3) and interarrival jitter (A.8);
    /// `None` before its first packet.
    pub fn receive_summary(&self) -> Option<(i64, Duration)> {
        self.receiver
            .source_stats()
            .map(|stats| (stats.lost(), stats.jitter()))
    }

    /// Our stream as the phone last reported it in RTCP: packets lost and interarrival
    /// jitter; `None` when the phone sent no report (many trunks send no RTCP at all).
    pub fn send_summary(&self) -> Option<(i64, Duration)> {
        let report = self.rtcp.remote_report()?.data;
        let clock = u64::from(self.negotiated.codec.rtp_clock());
        let jitter = Duration::from_nanos(u64::from(report.jitter) * 1_000_000_000 / clock);
        Some((i64::from(report.cumulative_lost), jitter))
    }

    /// The codec the phone leg uses now.
    pub fn codec(&self) -> sdp::Codec {
        self.negotiated.codec
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.receiver.poll_event()
    }

    /// The call is answered now: no RTP from the phone is overdue before its media timeout
    /// from here, however long it rang.
    pub fn restart_media_timeout(&mut self, now: Instant) {
        self.receiver.restart_timeout(now);
    }

    /// Plays `tone` to the phone instead of the room (or the room again, with `None`).
    pub fn set_prompt(&mut self, tone: Option<Progress>) {
        let rate = audio_codec(self.negotiated.codec).pcm_rate();
        self.prompt = tone.map(|tone| ProgressTone::new(Country::Us, tone, rate));
    }

    /// Queues DTMF toward the phone (`w` pauses); false if the digits are not dialable.
    pub fn send_dtmf(&mut self, digits: &str) -> bool {
        self.sender
            .send_dtmf(digits, sipbridge_media::dtmf::KEY_DURATION)
    }

    /// Applies a re-INVITE's negotiation. A new direction (hold, unhold) switches sending
    /// and the media timeout; a new address or payload type starts the receiving side afresh
    /// (latch, sequence tracking, jitter buffer), as the phone's stream now comes from
    /// elsewhere; a new codec also restarts our stream (`start`: its new random values).
    pub fn renegotiate(
        &mut self,
        now: Instant,
        negotiated: &sdp::Negotiated,
        start: StreamStart,
    ) -> Result<(), Error> {
        let old = self.negotiated;
        let leg = media_leg(negotiated);
        if negotiated.codec != old.codec {
            let cname = self.rtcp_cname.clone();
            *self = Self::new(now, negotiated, &self.settings, start, &cname)?;
            return Ok(());
        }
        if negotiated.remote != old.remote
            || negotiated.payload_type != old.payload_type
            || negotiated.receive_event_pt != old.receive_event_pt
        {
            self.receiver = PhoneReceiver::new(now, &leg, &self.settings)?;
        }
        if negotiated.payload_type != old.payload_type
            || negotiated.send_event_pt != old.send_event_pt
        {
            let ssrc = self.sender.ssrc();
            let settings = &self.settings;
            self.sender = PhoneSender::new(&leg, settings, ssrc, start.sequence, start.timestamp)?;
        }
        self.sender.set_sending(leg.direction.sends());
        self.receiver.set_receiving(now, leg.direction.receives());
        self.negotiated = *negotiated;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sipbridge_media::analysis::tone_frequency;
    use sipbridge_media::g711::Law;
    use sipbridge_media::opus::{OpusDecoder, OpusEncoder};
    use sipbridge_media::rtp::{RtpHeader, RtpPacket};
    use sipbridge_media::tone::Sine;

    use super::*;

    fn pcmu_call(remote: SocketAddr) -> sdp::Negotiated {
        sdp::Negotiated {
            codec: sdp::Codec::Pcmu,
            payload_type: sdp::PayloadType(0),
            receive_event_pt: None,
            send_event_pt: None,
            ptime_ms: 20,
            direction: sdp::MediaDirection::SendRecv,
            remote,
        }
    }

    /// Every codec and direction of signaling's SDP becomes its media counterpart, and every
    /// other field is carried over unchanged.
    #[test]
    fn media_leg_maps_every_codec_and_direction() {
        let codecs = [
            (sdp::Codec::Pcmu, AudioCodec::Pcmu),
            (sdp::Codec::Pcma, AudioCodec::Pcma),
            (sdp::Codec::G722, AudioCodec::G722),
            (sdp::Codec::Opus, AudioCodec::Opus),
        ];
        let directions = [
            (sdp::MediaDirection::SendRecv, leg::Direction::SendRecv),
            (sdp::MediaDirection::SendOnly, leg::Direction::SendOnly),
            (sdp::MediaDirection::RecvOnly, leg::Direction::RecvOnly),
            (sdp::MediaDirection::Inactive, leg::Direction::Inactive),
        ];
        let remote: SocketAddr = "192.0.2.5:4000".parse().unwrap();
        for (codec, audio) in codecs {
            for (direction, leg_direction) in directions {
                let negotiated = sdp::Negotiated {
                    codec,
                    payload_type: sdp::PayloadType(111),
                    receive_event_pt: Some(sdp::PayloadType(101)),
                    send_event_pt: Some(sdp::PayloadType(110)),
                    ptime_ms: 30,
                    direction,
                    remote,
                };
                let expected = leg::Negotiated {
                    codec: audio,
                    payload_type: PayloadType(111),
                    receive_event_pt: Some(PayloadType(101)),
                    send_event_pt: Some(PayloadType(110)),
                    ptime_ms: 30,
                    direction: leg_direction,
                    remote,
                };
                assert_eq!(media_leg(&negotiated), expected);
                assert_eq!(direction.sends(), leg_direction.sends(), "{direction:?}");
                assert_eq!(direction.receives(), leg_direction.receives());
            }
            assert_eq!(codec.rtp_clock(), audio.rtp_clock(), "{codec:?}");
            assert_eq!(
                codec.static_payload_type().map(|pt| pt.0),
                audio.static_payload_type().map(|pt| pt.0),
                "{codec:?}"
            );
        }
        let no_events = sdp::Negotiated {
            receive_event_pt: None,
            send_event_pt: None,
            ..pcmu_call(remote)
        };
        let leg = media_leg(&no_events);
        assert_eq!((leg.receive_event_pt, leg.send_event_pt), (None, None));
    }

    /// The phone's `i`th 20 ms PCMU packet of `tone`.
    fn phone_packet(i: u32, tone: &mut Sine, out: &mut Vec<u8>) {
        let mut pcm = vec![0i16; 160];
        tone.fill(&mut pcm);
        let mut payload = vec![0u8; 160];
        Law::Mu.encode(&pcm, &mut payload);
        let header = RtpHeader {
            marker: i == 0,
            payload_type: PayloadType(0),
            sequence: i as u16,
            timestamp: i * 160,
            ssrc: Ssrc(99),
        };
        header.write(&payload, out);
    }

    /// Both directions of a PCMU call on a virtual clock: a 700 Hz tone from the phone
    /// reaches the room as Opus, a 1.2 kHz room track reaches the phone as PCMU.
    #[test]
    fn tones_cross_both_ways() {
        let phone: SocketAddr = "192.0.2.5:4000".parse().unwrap();
        let negotiated = pcmu_call(phone);
        let start = Instant::now();
        let stream = StreamStart {
            ssrc: 7,
            sequence: 100,
            timestamp: 1000,
        };
        let mut media =
            CallMedia::new(start, &negotiated, &LegSettings::default(), stream, "t").unwrap();

        let mut phone_tone = Sine::new(700.0, 8000, 8000);
        let mut room_tone = Sine::new(1200.0, 48000, 8000);
        let mut room_encoder = OpusEncoder::new(48000, Default::default()).unwrap();
        let mut room_decoder = OpusDecoder::new(8000).unwrap();
        let (mut to_room, mut to_phone) = (Vec::new(), Vec::new());
        let mut packet = Vec::new();
        for i in 0..100u32 {
            let now = start + TICK * (i + 1);
            phone_packet(i, &mut phone_tone, &mut packet);
            media.handle_rtp(now, phone, &packet);

            let mut pcm48 = vec![0i16; 960];
            room_tone.fill(&mut pcm48);
            let audio = RemoteAudio {
                identity: "agent".into(),
                track_sid: "TR_1".into(),
                seq: u64::from(i),
                rtp_time: u64::from(i) * 960,
                contiguous: true,
                opus: room_encoder.encode(&pcm48).unwrap().to_vec(),
            };
            media.handle_room_audio(now, &audio);

            assert!(media.tick_due(now));
            let opus = media.tick(now).unwrap();
            to_room.extend_from_slice(room_decoder.decode(&opus).unwrap());
            while let Some((bytes, destination)) = media.poll_rtp() {
                assert_eq!(destination, phone);
                let rtp = RtpPacket::parse(bytes).unwrap();
                let mut decoded = vec![0i16; rtp.payload.len()];
                Law::Mu.decode(rtp.payload, &mut decoded);
                to_phone.extend_from_slice(&decoded);
            }
        }
        // The last second, after the buffers filled.
        let heard_in_room = tone_frequency(&to_room[to_room.len() - 4000..], 8000).unwrap();
        let heard_by_phone = tone_frequency(&to_phone[to_phone.len() - 4000..], 8000).unwrap();
        println!("room hears {heard_in_room:.1} Hz, phone hears {heard_by_phone:.1} Hz");
        assert!((heard_in_room - 700.0).abs() < 14.0, "{heard_in_room}");
        assert!((heard_by_phone - 1200.0).abs() < 24.0, "{heard_by_phone}");
    }

    /// A re-INVITE moving the phone's media elsewhere: our RTP follows, and the new
    /// address's packets are heard.
    #[test]
    fn a_new_remote_address_is_followed() {
        let old: SocketAddr = "192.0.2.5:4000".parse().unwrap();
        let new: SocketAddr = "192.0.2.77:5002".parse().unwrap();
        let mut negotiated = pcmu_call(old);
        let now = Instant::now();
        let start = StreamStart {
            ssrc: 7,
            sequence: 1,
            timestamp: 1,
        };
        let mut media =
            CallMedia::new(now, &negotiated, &LegSettings::default(), start, "t").unwrap();
        media.tick(now + TICK).unwrap();
        assert_eq!(media.poll_rtp().map(|(_, to)| to), Some(old));

        negotiated.remote = new;
        media.renegotiate(now + TICK, &negotiated, start).unwrap();
        let mut tone = Sine::new(700.0, 8000, 8000);
        let mut packet = Vec::new();
        let mut decoder = OpusDecoder::new(8000).unwrap();
        let mut heard = Vec::new();
        for i in 0..50u32 {
            let at = now + TICK * (i + 2);
            phone_packet(i, &mut tone, &mut packet);
            media.handle_rtp(at, new, &packet);
            let opus = media.tick(at).unwrap();
            heard.extend_from_slice(decoder.decode(&opus).unwrap());
            while let Some((_, to)) = media.poll_rtp() {
                assert_eq!(to, new);
            }
        }
        let hz = tone_frequency(&heard[heard.len() - 4000..], 8000).unwrap();
        assert!(
            (hz - 700.0).abs() < 14.0,
            "heard {hz} Hz from the new address"
        );
    }
}
