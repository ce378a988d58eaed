//! `rtp:` — the phone-side media: ports, timeouts, jitter buffer, codecs.

use serde::Deserialize;

use crate::values::{Duration, IpLiteral};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rtp {
    /// UDP ports for RTP (even) and RTCP (the odd port above); one pair per call.
    pub port_range: PortRange,
    /// Address put in SDP `c=` lines; defaults to `sip.external_ip`.
    pub external_ip: Option<IpLiteral>,
    /// A call whose phone sends no RTP for this long ends with MEDIA_FAILURE (408 "Media timeout").
    pub media_timeout: Duration,
    /// The same, before the first RTP packet of the call has arrived.
    pub media_timeout_initial: Duration,
    pub jitter_buffer: JitterBuffer,
    /// Codecs offered and accepted, most preferred first.
    pub codecs: Vec<Codec>,
    /// Opus encoder complexity, 0 (cheapest) to 10.
    pub opus_complexity: u8,
    /// Symmetric RTP (send to where the phone's RTP comes from rather than to the SDP address).
    pub symmetric_rtp: SymmetricRtp,
}

impl Default for Rtp {
    fn default() -> Self {
        Self {
            port_range: PortRange {
                min: 10000,
                max: 20000,
            },
            external_ip: None,
            media_timeout: Duration::from_secs(15),
            media_timeout_initial: Duration::from_secs(30),
            jitter_buffer: JitterBuffer::default(),
            codecs: vec![
                Codec::Pcmu,
                Codec::Pcma,
                Codec::G722,
                Codec::Opus,
                Codec::TelephoneEvent,
            ],
            opus_complexity: 5,
            symmetric_rtp: SymmetricRtp::Auto,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

impl PortRange {
    /// How many RTP/RTCP port pairs (calls) the range holds.
    pub fn pairs(&self) -> usize {
        let first_even = u32::from(self.min) + u32::from(self.min % 2);
        let max = u32::from(self.max);
        if max <= first_even {
            0
        } else {
            ((max - first_even) as usize).div_ceil(2)
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitterBuffer {
    pub min: Duration,
    pub max: Duration,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(20),
            max: Duration::from_millis(120),
        }
    }
}

/// Codec names as they appear in SDP `a=rtpmap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum Codec {
    #[serde(rename = "PCMU")]
    Pcmu,
    #[serde(rename = "PCMA")]
    Pcma,
    #[serde(rename = "G722")]
    G722,
    #[serde(rename = "opus")]
    Opus,
    /// RFC 4733 DTMF events; not an audio codec.
    #[serde(rename = "telephone-event")]
    TelephoneEvent,
}

impl Codec {
    pub fn sdp_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
            Codec::TelephoneEvent => "telephone-event",
        }
    }
    pub fn is_audio(self) -> bool {
        self != Codec::TelephoneEvent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SymmetricRtp {
    /// Latch onto the source of the phone's RTP when the SDP address is private or unusable.
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::PortRange;

    #[test]
    fn port_pairs() {
        assert_eq!(
            PortRange {
                min: 10000,
                max: 10001
            }
            .pairs(),
            1
        );
        assert_eq!(
            PortRange {
                min: 10000,
                max: 10003
            }
            .pairs(),
            2
        );
        assert_eq!(
            PortRange {
                min: 10001,
                max: 10003
            }
            .pairs(),
            1
        );
        assert_eq!(
            PortRange {
                min: 10000,
                max: 10000
            }
            .pairs(),
            0
        );
        assert_eq!(
            PortRange {
                min: 65535,
                max: 65535
            }
            .pairs(),
            0
        );
    }
}
