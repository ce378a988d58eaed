//! The config's `rtp:` section as the values `media/` and `signaling/` take.

use sipbridge_config::{Codec, Rtp, SymmetricRtp};
use sipbridge_media::jitter::JitterLimits;
use sipbridge_media::leg::{Latching, LegSettings};
use sipbridge_media::opus::EncoderSettings;
use sipbridge_signaling::sdp::{self, CodecPreferences};

pub fn leg_settings(rtp: &Rtp) -> LegSettings {
    let millis = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    LegSettings {
        jitter: JitterLimits {
            min_ms: millis(rtp.jitter_buffer.min.0),
            max_ms: millis(rtp.jitter_buffer.max.0),
        },
        media_timeout: rtp.media_timeout.0,
        media_timeout_initial: rtp.media_timeout_initial.0,
        latching: match rtp.symmetric_rtp {
            SymmetricRtp::Auto => Latching::Auto,
            SymmetricRtp::Always => Latching::Always,
            SymmetricRtp::Never => Latching::Never,
        },
        opus: EncoderSettings {
            complexity: rtp.opus_complexity,
            ..EncoderSettings::default()
        },
    }
}

/// The audio codecs in config order, and whether telephone-event is offered.
pub fn codec_preferences(rtp: &Rtp) -> CodecPreferences {
    let audio: Vec<sdp::Codec> = rtp
        .codecs
        .iter()
        .filter_map(|codec| match codec {
            Codec::Pcmu => Some(sdp::Codec::Pcmu),
            Codec::Pcma => Some(sdp::Codec::Pcma),
            Codec::G722 => Some(sdp::Codec::G722),
            Codec::Opus => Some(sdp::Codec::Opus),
            Codec::TelephoneEvent => None,
        })
        .collect();
    let telephone_event = rtp.codecs.contains(&Codec::TelephoneEvent);
    // Config validation guarantees at least one audio codec.
    CodecPreferences::new(&audio, telephone_event).unwrap_or_default()
}

/// The codec's name in the call record's `audio_codec` (the SDP encoding names).
pub fn codec_name(codec: sdp::Codec) -> &'static str {
    codec.encoding_name()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_map_to_the_media_defaults() {
        let rtp = Rtp::default();
        assert_eq!(leg_settings(&rtp), LegSettings::default());
        let prefs = codec_preferences(&rtp);
        assert_eq!(
            prefs.codecs(),
            [
                sdp::Codec::Pcmu,
                sdp::Codec::Pcma,
                sdp::Codec::G722,
                sdp::Codec::Opus
            ]
        );
        assert!(prefs.telephone_event());
    }

    /// The record's `audio_codec` values.
    #[test]
    fn codec_names_are_the_sdp_encoding_names() {
        let names = [
            (sdp::Codec::Pcmu, "PCMU"),
            (sdp::Codec::Pcma, "PCMA"),
            (sdp::Codec::G722, "G722"),
            (sdp::Codec::Opus, "opus"),
        ];
        for (codec, name) in names {
            assert_eq!(codec_name(codec), name);
        }
    }
}
