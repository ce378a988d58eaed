//! Room → phone: 20 ms PCM frames in, RTP packets at the negotiated ptime out, with DTMF
//! as RFC 4733 events (or in-band tones when the phone negotiated none).

use std::time::Duration;

use super::{LegSettings, Negotiated};
use crate::codec::{AudioCodec, Encoder};
use crate::dtmf::{DtmfFrame, DtmfSender};
use crate::rtcp::{NtpTime, SenderInfo};
use crate::rtp::{PayloadType, RtpHeader, Ssrc};
use crate::{Error, samples_per_frame};

/// Packets one frame can produce: two at 10 ms ptime, or one event.
const QUEUE: usize = 4;

/// The sending half of the SIP leg.
#[derive(Debug)]
pub struct PhoneSender {
    audio_pt: PayloadType,
    event_pt: Option<PayloadType>,
    ssrc: Ssrc,
    sequence: u16,
    /// RTP time of the next frame's first sample.
    timestamp: u32,
    frame_ticks: u32,
    pcm_rate: u32,
    rtp_clock: u32,
    packet_samples: usize,
    encoder: Encoder,
    /// PCM waiting to fill a packet, and the RTP time of its first sample.
    pending: Vec<i16>,
    pending_timestamp: u32,
    inband: Vec<i16>,
    payload: Vec<u8>,
    queue: [Vec<u8>; QUEUE],
    queued: usize,
    polled: usize,
    marker_next: bool,
    sending: bool,
    dtmf: DtmfSender,
    packet_count: u32,
    octet_count: u32,
}

impl PhoneSender {
    /// `ssrc`, `sequence` and `timestamp` are the stream's random starting values (RFC 3550
    /// §5.1); the caller draws them, this crate has no randomness of its own.
    pub fn new(
        negotiated: &Negotiated,
        settings: &LegSettings,
        ssrc: Ssrc,
        sequence: u16,
        timestamp: u32,
    ) -> Result<Self, Error> {
        let codec = negotiated.codec;
        let ptime = negotiated.ptime_ms;
        if !(10..=60).contains(&ptime) || !ptime.is_multiple_of(10) {
            return Err(Error::Ptime(ptime));
        }
        // Opus frames are 10, 20, 40 or 60 ms (RFC 6716 §2.1.4); 30 and 50 fall back to 20.
        let ptime = if codec == AudioCodec::Opus && matches!(ptime, 30 | 50) {
            20
        } else {
            ptime
        };
        let pcm_rate = codec.pcm_rate();
        let packet_samples = (pcm_rate * ptime / 1000) as usize;
        let frame = samples_per_frame(pcm_rate);
        Ok(Self {
            audio_pt: negotiated.payload_type,
            event_pt: negotiated.send_event_pt,
            ssrc,
            sequence,
            timestamp,
            frame_ticks: codec.rtp_clock() * crate::FRAME_MS / 1000,
            pcm_rate,
            rtp_clock: codec.rtp_clock(),
            packet_samples,
            encoder: Encoder::new(codec, settings.opus)?,
            pending: Vec::with_capacity(packet_samples + frame),
            pending_timestamp: timestamp,
            inband: vec![0; frame],
            payload: Vec::with_capacity(1500),
            queue: std::array::from_fn(|_| Vec::with_capacity(1500)),
            queued: 0,
            polled: 0,
            marker_next: true,
            sending: negotiated.direction.sends(),
            dtmf: DtmfSender::new(codec.rtp_clock(), pcm_rate),
            packet_count: 0,
            octet_count: 0,
        })
    }

    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// A re-INVITE changed the direction: while not sending, time runs on but nothing goes out.
    pub fn set_sending(&mut self, sending: bool) {
        if sending && !self.sending {
            self.marker_next = true;
        }
        self.sending = sending;
    }

    /// Queues a dial string (`0-9*#A-D`, `w` = 0.5 s pause); false if it is invalid or too long.
    pub fn send_dtmf(&mut self, dial: &str, key_duration: Duration) -> bool {
        self.dtmf.queue(dial, key_duration)
    }

    pub fn dtmf_idle(&self) -> bool {
        self.dtmf.is_idle()
    }

    /// Takes the next 20 ms of audio for the phone. Call once per tick, then drain
    /// [`Self::poll_packet`].
    pub fn push_frame(&mut self, pcm: &[i16]) -> Result<(), Error> {
        if pcm.len() != self.inband.len() {
            return Err(Error::FrameLength {
                expected: self.inband.len(),
                got: pcm.len(),
            });
        }
        self.queued = 0;
        self.polled = 0;
        let frame_timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(self.frame_ticks);
        if !self.sending {
            self.pending.clear();
            return Ok(());
        }
        let action = self.dtmf.next_frame(frame_timestamp, self.frame_ticks);
        match (action, self.event_pt) {
            (DtmfFrame::Audio, _) => self.push_audio(frame_timestamp, pcm),
            (
                DtmfFrame::Event {
                    marker,
                    timestamp,
                    payload,
                },
                Some(pt),
            ) => {
                self.pending.clear();
                self.marker_next = true;
                self.enqueue(marker, pt, timestamp, &payload);
                Ok(())
            }
            (DtmfFrame::Silence, Some(_)) => {
                self.pending.clear();
                self.marker_next = true;
                Ok(())
            }
            (inband, None) => {
                let mut tone = std::mem::take(&mut self.inband);
                self.dtmf.fill_inband(inband, &mut tone);
                let result = self.push_audio(frame_timestamp, &tone);
                self.inband = tone;
                result
            }
        }
    }

    fn push_audio(&mut self, frame_timestamp: u32, pcm: &[i16]) -> Result<(), Error> {
        if self.pending.is_empty() {
            self.pending_timestamp = frame_timestamp;
        }
        self.pending.extend_from_slice(pcm);
        while self.pending.len() >= self.packet_samples {
            let mut payload = std::mem::take(&mut self.payload);
            payload.clear();
            let encoded = self
                .encoder
                .encode_into(&self.pending[..self.packet_samples], &mut payload);
            self.pending.drain(..self.packet_samples);
            let timestamp = self.pending_timestamp;
            let ticks =
                self.packet_samples as u64 * u64::from(self.rtp_clock) / u64::from(self.pcm_rate);
            self.pending_timestamp = timestamp.wrapping_add(ticks as u32);
            if encoded.is_ok() {
                let marker = std::mem::take(&mut self.marker_next);
                self.enqueue(marker, self.audio_pt, timestamp, &payload);
            }
            self.payload = payload;
            encoded?;
        }
        Ok(())
    }

    fn enqueue(&mut self, marker: bool, payload_type: PayloadType, timestamp: u32, payload: &[u8]) {
        let Some(out) = self.queue.get_mut(self.queued) else {
            return;
        };
        RtpHeader {
            marker,
            payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
        }
        .write(payload, out);
        self.sequence = self.sequence.wrapping_add(1);
        self.queued += 1;
        self.packet_count = self.packet_count.wrapping_add(1);
        self.octet_count = self.octet_count.wrapping_add(payload.len() as u32);
    }

    /// The next RTP datagram to send to the phone, if any.
    pub fn poll_packet(&mut self) -> Option<&[u8]> {
        if self.polled >= self.queued {
            return None;
        }
        self.polled += 1;
        self.queue.get(self.polled - 1).map(|p| &p[..])
    }

    /// The sender half of an RTCP SR, for wall-clock time `ntp` (the frame about to be sent).
    pub fn sender_info(&self, ntp: NtpTime) -> Option<SenderInfo> {
        (self.packet_count > 0).then_some(SenderInfo {
            ntp,
            rtp_timestamp: self.timestamp,
            packet_count: self.packet_count,
            octet_count: self.octet_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leg::Direction;
    use crate::opus::OpusDecoder;
    use crate::rtp::RtpPacket;
    use crate::tone::Sine;

    /// Each packet carries exactly the negotiated ptime of audio: G.711 one byte a sample,
    /// G.722 one byte per two 16 kHz samples, Opus as many samples as it decodes to; and the
    /// RTP timestamp steps by ptime × clock rate (8 kHz for G.722, 48 kHz for Opus), across
    /// the 32-bit wrap too.
    #[test]
    fn packets_carry_exactly_the_negotiated_ptime() {
        // (codec, negotiated ptime, payload bytes or Opus samples at 48 kHz, timestamp step)
        let cases = [
            (AudioCodec::Pcmu, 10, 80, 80),
            (AudioCodec::Pcmu, 20, 160, 160),
            (AudioCodec::Pcmu, 30, 240, 240),
            (AudioCodec::Pcma, 60, 480, 480),
            (AudioCodec::G722, 20, 160, 160),
            (AudioCodec::G722, 40, 320, 320),
            (AudioCodec::Opus, 20, 960, 960),
            (AudioCodec::Opus, 60, 2880, 2880),
            // Opus has no 30 ms frame: 20 ms packets instead.
            (AudioCodec::Opus, 30, 960, 960),
        ];
        for (codec, ptime_ms, size, step) in cases {
            let negotiated = Negotiated {
                codec,
                payload_type: codec.static_payload_type().unwrap_or(PayloadType(111)),
                receive_event_pt: None,
                send_event_pt: None,
                ptime_ms,
                direction: Direction::SendRecv,
                remote: "127.0.0.1:40000".parse().unwrap(),
            };
            let first_timestamp = u32::MAX - 500;
            let settings = LegSettings::default();
            let mut sender =
                PhoneSender::new(&negotiated, &settings, Ssrc(1), 65_530, first_timestamp).unwrap();
            let mut opus = OpusDecoder::new(48_000).unwrap();
            let mut tone = Sine::new(440.0, codec.pcm_rate(), 8000);
            let mut packets = Vec::new();
            // 240 ms: a whole number of packets at every ptime above.
            for _ in 0..12 {
                sender.push_frame(&tone.frame()).unwrap();
                while let Some(p) = sender.poll_packet() {
                    packets.push(p.to_vec());
                }
            }
            let what = format!("{codec:?} ptime {ptime_ms}");
            let ticks_sent = 240 * codec.rtp_clock() / 1000;
            assert_eq!(packets.len() as u32, ticks_sent / step, "{what}");
            for (i, datagram) in packets.iter().enumerate() {
                let packet = RtpPacket::parse(datagram).unwrap();
                let carried = match codec {
                    AudioCodec::Opus => opus.decode(packet.payload).unwrap().len(),
                    _ => packet.payload.len(),
                };
                assert_eq!(carried, size, "{what}: packet {i}");
                let expected = first_timestamp.wrapping_add(i as u32 * step);
                assert_eq!(packet.timestamp, expected, "{what}: packet {i}");
                assert_eq!(packet.sequence, 65_530u16.wrapping_add(i as u16), "{what}");
            }
        }
    }
}
