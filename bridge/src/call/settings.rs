//! The config's `rtp:` section as the values `media/` and `signaling/` take.

use sipbridge_config::{Codec, Rtp, SymmetricRtp};
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::jitter::JitterLimits;
use sipbridge_media::leg::{Latching, LegSettings};
use sipbridge_media::opus::EncoderSettings;
use sipbridge_signaling::sdp::CodecPreferences;

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
    let audio: Vec<AudioCodec> = rtp
        .codecs
        .iter()
        .filter_map(|codec| match codec {
            Codec::Pcmu => Some(AudioCodec::Pcmu),
            Codec::Pcma => Some(AudioCodec::Pcma),
            Codec::G722 => Some(AudioCodec::G722),
            Codec::Opus => Some(AudioCodec::Opus),
            Codec::TelephoneEvent => None,
        })
        .collect();
    let telephone_event = rtp.codecs.contains(&Codec::TelephoneEvent);
    // Config validation guarantees at least one audio codec.
    CodecPreferences::new(&audio, telephone_event).unwrap_or_default()
}

/// The codec's name in the call record's `audio_codec` (the SDP encoding names).
pub fn codec_name(codec: AudioCodec) -> &'static str {
    match codec {
        AudioCodec::Pcmu => "PCMU",
        AudioCodec::Pcma => "PCMA",
        AudioCodec::G722 => "G722",
        AudioCodec::Opus => "opus",
    }
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
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
                AudioCodec::G722,
                AudioCodec::Opus
            ]
        );
        assert!(prefs.telephone_event());
    }
}
