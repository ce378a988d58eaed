//! Which of our codecs a payload type in a media section stands for, and how we write them.

use super::description::MediaDescription;
use super::types::{Codec, PayloadType};
use crate::Error;

/// What one payload type of an audio section carries, as far as we are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Audio(Codec),
    /// RFC 4733 events at this RTP clock rate.
    TelephoneEvent(u32),
    Other,
}

/// Names a payload type of `media`: by its `a=rtpmap` when there is one (it wins even over a
/// static number, RFC 3264 §5.1), else by the static assignments of RFC 3551 Table 4.
pub(crate) fn classify(media: &MediaDescription, pt: PayloadType) -> Format {
    match media.rtpmap(pt) {
        Some(map) => by_name(&map.encoding, map.clock_rate, map.channels),
        None => static_codec(pt).map_or(Format::Other, Format::Audio),
    }
}

/// Every payload type of the section's format list with what it carries, in offer order.
pub(crate) fn formats(media: &MediaDescription) -> Vec<(PayloadType, Format)> {
    media
        .payload_types()
        .map(|pt| (pt, classify(media, pt)))
        .collect()
}

fn static_codec(pt: PayloadType) -> Option<Codec> {
    [Codec::Pcmu, Codec::Pcma, Codec::G722]
        .into_iter()
        .find(|codec| codec.static_payload_type() == Some(pt))
}

fn by_name(encoding: &str, clock: u32, channels: Option<u16>) -> Format {
    // Encoding names are case-insensitive (RFC 4855 §3).
    let is = |name: &str| encoding.eq_ignore_ascii_case(name);
    let mono = matches!(channels, None | Some(1));
    if is("PCMU") && clock == 8_000 && mono {
        Format::Audio(Codec::Pcmu)
    } else if is("PCMA") && clock == 8_000 && mono {
        Format::Audio(Codec::Pcma)
    } else if is("G722") && clock == 8_000 && mono {
        // G.722 samples at 16 kHz but its RTP clock is 8 kHz (RFC 3551 §4.5.2): a G722/16000
        // map comes from a peer whose timestamps we could not trust.
        Format::Audio(Codec::G722)
    } else if is("opus") && clock == 48_000 && matches!(channels, None | Some(2)) {
        // RFC 7587 §7: always "opus/48000/2", whatever is actually sent.
        Format::Audio(Codec::Opus)
    } else if is("telephone-event") {
        Format::TelephoneEvent(clock)
    } else {
        Format::Other
    }
}

/// The `a=rtpmap` value after the payload type (RFC 8866 §6.6).
pub(crate) fn rtpmap_value(codec: Codec) -> &'static str {
    match codec {
        Codec::Pcmu => "PCMU/8000",
        Codec::Pcma => "PCMA/8000",
        Codec::G722 => "G722/8000",
        Codec::Opus => "opus/48000/2",
    }
}

/// The `a=fmtp` parameters we send for a codec, if any. Opus in-band FEC lets the phone's
/// decoder rebuild a lost packet from the next one (RFC 7587 §6.1).
pub(crate) fn fmtp_value(codec: Codec) -> Option<&'static str> {
    match codec {
        Codec::Opus => Some("useinbandfec=1"),
        _ => None,
    }
}

/// The events we take and send: DTMF 0–9, *, #, A–D and flash (RFC 4733 §3.2).
pub(crate) const TELEPHONE_EVENTS: &str = "0-16";

/// The caller's codec choice: an ordered list (first is preferred) and whether RFC 4733
/// telephone-events are negotiated. Built from the configuration by `bridge/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecPreferences {
    codecs: Vec<Codec>,
    telephone_event: bool,
}

impl CodecPreferences {
    /// Duplicates are dropped (the first place counts); an empty list is an error.
    pub fn new(codecs: &[Codec], telephone_event: bool) -> Result<Self, Error> {
        let mut unique = Vec::with_capacity(codecs.len());
        for codec in codecs {
            if !unique.contains(codec) {
                unique.push(*codec);
            }
        }
        if unique.is_empty() {
            return Err(Error::SdpNoCodecConfigured);
        }
        Ok(Self {
            codecs: unique,
            telephone_event,
        })
    }

    pub fn codecs(&self) -> &[Codec] {
        &self.codecs
    }

    pub fn telephone_event(&self) -> bool {
        self.telephone_event
    }
}

impl Default for CodecPreferences {
    /// G.711 first: every carrier has it and it costs no CPU; wideband when asked for.
    fn default() -> Self {
        Self {
            codecs: vec![Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus],
            telephone_event: true,
        }
    }
}

/// Among the telephone-events in `formats`, the one to use with `codec`: the one at the
/// codec's RTP clock (RFC 4733 §2.1 wants them equal), else the common 8000 Hz one.
pub(crate) fn pick_telephone_event(
    formats: &[(PayloadType, Format)],
    codec: Codec,
) -> Option<(PayloadType, u32)> {
    let at = |wanted: u32| {
        formats.iter().find_map(|(pt, format)| match format {
            Format::TelephoneEvent(clock) if *clock == wanted => Some((*pt, *clock)),
            _ => None,
        })
    };
    at(codec.rtp_clock()).or_else(|| at(8_000))
}
