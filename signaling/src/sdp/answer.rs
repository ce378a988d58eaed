//! Answering an offer (RFC 3264 §6): inbound calls and the phone's re-INVITEs (hold,
//! unhold, a new address after a transfer).

use super::codec::{self, Format, pick_telephone_event};
use super::description::{MediaDescription, SessionDescription};
use super::negotiate::{intersect, peer_direction, ptime_ms, remote_address, reverse};
use super::session::{LocalSession, Section, codec_pt};
use super::types::Negotiated;
use crate::Error;

impl LocalSession {
    /// Answers `offer`: our SDP and what it settles for the media leg.
    ///
    /// The first audio section over plain RTP with a non-zero port carries the call; every
    /// other section is refused with port zero, so the answer has the offer's sections in
    /// the offer's order (RFC 3264 §6). The codec is the first of our preferences that the
    /// offer lists; the answer lists it and, when both sides do events, one telephone-event,
    /// under the offer's payload type numbers (RFC 3264 §6.1).
    ///
    /// On error nothing changes: the caller rejects the INVITE (see
    /// [`Error::sdp_rejection`]) and the previous SDP stays in force.
    pub fn answer(&mut self, offer: &SessionDescription) -> Result<(String, Negotiated), Error> {
        let index = usable_audio(&offer.media)?;
        let media = &offer.media[index];
        let remote = remote_address(offer, media)?;
        let offered = codec::formats(media);
        let (codec, payload_type) = self
            .preferences
            .codecs()
            .iter()
            .find_map(|codec| codec_pt(&offered, *codec).map(|pt| (*codec, pt)))
            .ok_or(Error::SdpNoCommonCodec)?;
        let event = self
            .preferences
            .telephone_event()
            .then(|| pick_telephone_event(&offered, codec))
            .flatten();
        let direction = intersect(
            reverse(peer_direction(offer, media)),
            self.wanted_direction(),
        );
        let ptime = ptime_ms(media);

        let mut chosen = vec![(payload_type, Format::Audio(codec))];
        chosen.extend(event.map(|(pt, clock)| (pt, Format::TelephoneEvent(clock))));
        let sections: Vec<Section<'_>> = offer
            .media
            .iter()
            .enumerate()
            .map(|(i, m)| {
                if i == index {
                    Section::Audio {
                        proto: &m.proto,
                        formats: &chosen,
                        ptime_ms: ptime,
                        direction,
                    }
                } else {
                    Section::Rejected {
                        media: &m.media,
                        proto: &m.proto,
                        formats: &m.formats,
                    }
                }
            })
            .collect();
        let sdp = self.write(&sections);
        // Our later offers keep the numbers the phone chose (RFC 3264 §8.3.2).
        self.bound = offered;
        self.offered = None;

        let event_pt = event.map(|(pt, _)| pt);
        Ok((
            sdp,
            Negotiated {
                codec,
                payload_type,
                // Answering, our SDP reuses the offer's number: the same in both directions.
                receive_event_pt: event_pt,
                send_event_pt: event_pt,
                ptime_ms: ptime,
                direction,
                remote,
            },
        ))
    }
}

/// The index of the section that carries the call, or why there is none.
fn usable_audio(media: &[MediaDescription]) -> Result<usize, Error> {
    let live_audio = |m: &MediaDescription| m.is_audio() && m.port != 0;
    if let Some(index) = media.iter().position(|m| live_audio(m) && m.is_plain_rtp()) {
        return Ok(index);
    }
    if media.iter().any(|m| live_audio(m) && m.is_srtp()) {
        return Err(Error::SdpSrtpNotSupported);
    }
    Err(Error::SdpNoAudio)
}
