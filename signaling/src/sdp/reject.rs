//! How an SDP error turns into the SIP response that rejects the offer.

use crate::Error;

/// The SIP answer to an offer we cannot take: status, reason phrase and, for 488, the
/// RFC 3261 §20.43 warning code that says which part of the SDP was the problem.
///
/// The reason phrase is "`<standard phrase> - <why>`", e.g. `488 Not Acceptable Here - No
/// common codec`: RFC 3261 §21 lets the phrase vary, and carriers show it in their logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpRejection {
    pub status: u16,
    pub reason: &'static str,
    /// For a `Warning: <code> <host> "<text>"` header (RFC 3261 §20.43).
    pub warning: Option<u16>,
}

impl Error {
    /// The response for an SDP error: `None` for errors that are not about SDP.
    ///
    /// | error | status | warning |
    /// |---|---|---|
    /// | malformed body, missing line, no `c=` | 400 | – |
    /// | body over 64 KiB | 413 | – |
    /// | too many sections or formats | 488 | 399 |
    /// | no audio over plain RTP, answer refused our audio | 488 | 304 media type not available |
    /// | SRTP only | 488 | 302 incompatible transport protocol |
    /// | no common codec | 488 | 305 incompatible media format |
    /// | `c=` with a host name | 488 | 301 incompatible network address formats |
    /// | answer's sections don't match our offer | 488 | 399 |
    /// | our own bug (answer without offer, no codec configured) | 500 | – |
    pub fn sdp_rejection(&self) -> Option<SdpRejection> {
        let (status, reason, warning) = match self {
            Error::SdpMalformed { .. } | Error::SdpMissingLine { .. } | Error::SdpNoConnection => {
                (400, "Bad Request - Malformed SDP", None)
            }
            Error::SdpTooLarge { .. } => (413, "Request Entity Too Large - SDP too large", None),
            Error::SdpTooMany { .. } => (488, "Not Acceptable Here - SDP too large", Some(399)),
            Error::SdpNoAudio => (488, "Not Acceptable Here - No audio stream", Some(304)),
            Error::SdpMediaRejected => (488, "Not Acceptable Here - Audio rejected", Some(304)),
            Error::SdpSrtpNotSupported => {
                (488, "Not Acceptable Here - SRTP not supported", Some(302))
            }
            Error::SdpNoCommonCodec => (488, "Not Acceptable Here - No common codec", Some(305)),
            Error::SdpHostAddress { .. } => (
                488,
                "Not Acceptable Here - Host name in connection address",
                Some(301),
            ),
            Error::SdpAnswerMismatch { .. } => (
                488,
                "Not Acceptable Here - Answer does not match offer",
                Some(399),
            ),
            Error::SdpNoOfferSent | Error::SdpNoCodecConfigured => {
                (500, "Server Internal Error", None)
            }
            // The crate's other errors (SIP, transactions…) have their own mapping.
            #[allow(unreachable_patterns)]
            _ => return None,
        };
        Some(SdpRejection {
            status,
            reason,
            warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_problems_are_488_and_malformed_bodies_400() {
        let status = |e: Error| e.sdp_rejection().map(|r| r.status);
        assert_eq!(status(Error::SdpNoCommonCodec), Some(488));
        assert_eq!(status(Error::SdpSrtpNotSupported), Some(488));
        assert_eq!(status(Error::SdpNoAudio), Some(488));
        assert_eq!(
            status(Error::SdpMalformed {
                line: 3,
                what: "c= line"
            }),
            Some(400)
        );
        assert_eq!(status(Error::SdpNoOfferSent), Some(500));
        let codec = Error::SdpNoCommonCodec.sdp_rejection();
        assert_eq!(
            codec,
            Some(SdpRejection {
                status: 488,
                reason: "Not Acceptable Here - No common codec",
                warning: Some(305)
            })
        );
        assert_eq!(Error::SdpNoCommonCodec.to_string(), "No common codec");
        assert_eq!(Error::SdpSrtpNotSupported.to_string(), "SRTP not supported");
    }
}
