//! Offering (RFC 3264 §5): outbound calls, and our own re-INVITEs to hold and resume.

use super::codec::{self, Format, pick_telephone_event};
use super::description::SessionDescription;
use super::negotiate::{
    DEFAULT_PTIME_MS, intersect, peer_direction, ptime_ms, remote_address, reverse,
};
use super::session::{LocalSession, Offered, Section, codec_pt, event_pt};
use super::types::{Codec, Negotiated, PayloadType};
use crate::Error;

/// The dynamic payload types we pick when the session has not bound one yet: what most
/// SIP and WebRTC stacks use, so answers rarely need to renumber.
const OPUS_PT: PayloadType = PayloadType(111);
const EVENT_8000_PT: PayloadType = PayloadType(101);
const EVENT_48000_PT: PayloadType = PayloadType(110);
/// RFC 3551 §3: the dynamic range.
const DYNAMIC: std::ops::RangeInclusive<u8> = 96..=127;

impl LocalSession {
    /// Our offer: one audio section over RTP/AVP listing every preferred codec in order,
    /// telephone-event at 8000 Hz (and at 48000 Hz beside Opus, RFC 4733 §2.1), sendonly
    /// while we hold the phone ([`LocalSession::set_on_hold`]) and sendrecv otherwise.
    ///
    /// Payload type numbers the session already bound keep their meaning (RFC 3264
    /// §8.3.2); otherwise static numbers, 111 for Opus, 101 and 110 for events, or the first
    /// free dynamic number.
    pub fn offer(&mut self) -> String {
        let formats = self.offer_formats();
        let direction = self.wanted_direction();
        let sdp = self.write(&[Section::Audio {
            proto: "RTP/AVP",
            formats: &formats,
            ptime_ms: DEFAULT_PTIME_MS,
            direction,
        }]);
        self.offered = Some(Offered { formats, direction });
        sdp
    }

    /// Reads the answer to our last offer (RFC 3264 §6.1): the codec is the first format
    /// of the answer that we offered; we send with the answer's number for it (which it
    /// should have kept from the offer). Events: `send_event_pt` is the answer's
    /// telephone-event, `receive_event_pt` ours at the same clock.
    pub fn handle_answer(&self, answer: &SessionDescription) -> Result<Negotiated, Error> {
        let offered = self.offered.as_ref().ok_or(Error::SdpNoOfferSent)?;
        let [media] = answer.media.as_slice() else {
            return Err(Error::SdpAnswerMismatch {
                offered: 1,
                answered: answer.media.len(),
            });
        };
        if !media.is_audio() {
            return Err(Error::SdpNoAudio);
        }
        if media.port == 0 {
            return Err(Error::SdpMediaRejected);
        }
        if !media.is_plain_rtp() {
            return Err(if media.is_srtp() {
                Error::SdpSrtpNotSupported
            } else {
                Error::SdpNoAudio
            });
        }
        let remote = remote_address(answer, media)?;
        // An answer that leaves out the rtpmap of a number we offered means our codec.
        let answered: Vec<(PayloadType, Format)> = codec::formats(media)
            .into_iter()
            .map(|(pt, format)| match (format, media.rtpmap(pt)) {
                (Format::Other, None) => (pt, ours(&offered.formats, pt)),
                _ => (pt, format),
            })
            .collect();
        let (codec, payload_type) = answered
            .iter()
            .find_map(|(pt, format)| match format {
                Format::Audio(codec) if codec_pt(&offered.formats, *codec).is_some() => {
                    Some((*codec, *pt))
                }
                _ => None,
            })
            .ok_or(Error::SdpNoCommonCodec)?;
        let events: Vec<(PayloadType, Format)> = answered
            .into_iter()
            .filter(|(_, f)| matches!(f, Format::TelephoneEvent(clock) if event_pt(&offered.formats, *clock).is_some()))
            .collect();
        let event = pick_telephone_event(&events, codec);
        Ok(Negotiated {
            codec,
            payload_type,
            receive_event_pt: event.and_then(|(_, clock)| event_pt(&offered.formats, clock)),
            send_event_pt: event.map(|(pt, _)| pt),
            ptime_ms: ptime_ms(media),
            direction: intersect(reverse(peer_direction(answer, media)), offered.direction),
            remote,
        })
    }

    fn offer_formats(&self) -> Vec<(PayloadType, Format)> {
        let mut list = Vec::new();
        for codec in self.preferences.codecs() {
            let preferred = codec.static_payload_type().unwrap_or(OPUS_PT);
            let format = Format::Audio(*codec);
            list.push((self.number_for(format, preferred, &list), format));
        }
        if self.preferences.telephone_event() {
            let format = Format::TelephoneEvent(8_000);
            list.push((self.number_for(format, EVENT_8000_PT, &list), format));
            if self.preferences.codecs().contains(&Codec::Opus) {
                let format = Format::TelephoneEvent(48_000);
                list.push((self.number_for(format, EVENT_48000_PT, &list), format));
            }
        }
        list
    }

    /// The number for `format` in our offer: the one the session bound to it, else
    /// `preferred` if free, else the first free dynamic number.
    fn number_for(
        &self,
        format: Format,
        preferred: PayloadType,
        listed: &[(PayloadType, Format)],
    ) -> PayloadType {
        let listed_already = |pt: PayloadType| listed.iter().any(|(used, _)| *used == pt);
        let bound = self
            .bound
            .iter()
            .find(|(pt, f)| *f == format && !listed_already(*pt));
        if let Some((pt, _)) = bound {
            return *pt;
        }
        let free =
            |pt: PayloadType| !listed_already(pt) && !self.bound.iter().any(|(b, _)| *b == pt);
        if free(preferred) {
            return preferred;
        }
        // Only a peer that offered all 32 dynamic numbers leaves none; we then reuse ours.
        DYNAMIC
            .map(PayloadType)
            .find(|pt| free(*pt))
            .unwrap_or(preferred)
    }
}

/// What we offered under `pt`, if anything.
fn ours(offered: &[(PayloadType, Format)], pt: PayloadType) -> Format {
    offered
        .iter()
        .find(|(offered_pt, _)| *offered_pt == pt)
        .map_or(Format::Other, |(_, format)| *format)
}
