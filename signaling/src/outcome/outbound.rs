//! Outbound INVITE (CreateSIPParticipant) that never became a call: the "outbound INVITE"
//! table of docs/OUTCOMES.md.

use super::{DisconnectReason, Outcome, SipStatus, phrase};

/// How our INVITE ended without an established call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundEnd {
    /// The peer sent this final non-2xx response (code and phrase as received). Includes a
    /// 401/407 that still came back after we answered the challenge once: the digest layer
    /// only reports it here once it has given up.
    Rejected(SipStatus),
    /// Provisional responses came, no final one before `ringing_timeout`, so we sent
    /// CANCEL. `response` is the final response that then ended the INVITE transaction,
    /// if any arrived.
    RingingTimeout {
        /// The INVITE's final response after our CANCEL (normally 487), if one arrived.
        response: Option<SipStatus>,
    },
    /// Nothing at all came back: Timer B (64·T1) or the configured shorter dial timeout.
    NoResponse,
    /// The request could not be sent or the connection failed: DNS failure, TCP/TLS
    /// connect refused, ICMP unreachable. `detail` says which, for operators.
    TransportFailure {
        /// A short human description, e.g. `"connection refused"`.
        detail: String,
    },
    /// The peer answered, but its SDP had no codec (or crypto suite) in common with ours.
    NoCommonCodec,
    /// The API caller cancelled, or the room closed, before the peer answered.
    Cancelled,
    /// The peer answered with a 2xx we cannot form a dialog from (no Contact, say): we
    /// cannot even send the BYE, so the call is over. RFC 3261 has no status for a bad
    /// response; 502 Bad Gateway is what a proxy says of a next hop's invalid response.
    UnusableAnswer,
}

impl OutboundEnd {
    /// The one outcome this end maps to.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Rejected(status) => {
                Outcome::new(final_response_reason(status.code), status.clone())
            }
            Self::RingingTimeout { response } => {
                // Only the 487 that answers our CANCEL is reported as received. Any other
                // final response that crossed the CANCEL (a 200 we then hang up, a late
                // 486) lost the race: we had already decided the call was unanswered.
                let status = match response {
                    Some(s) if s.code == 487 => s.clone(),
                    _ => SipStatus::new(408, phrase::RINGING_TIMEOUT),
                };
                Outcome::new(DisconnectReason::UserUnavailable, status)
            }
            Self::NoResponse => Outcome::new(
                DisconnectReason::ConnectionTimeout,
                SipStatus::no_response(),
            ),
            Self::TransportFailure { detail } => Outcome::new(
                DisconnectReason::SipTrunkFailure,
                SipStatus::transport_failure(detail),
            ),
            Self::NoCommonCodec => Outcome::new(
                DisconnectReason::MediaFailure,
                SipStatus::new(488, phrase::NO_COMMON_CODEC),
            ),
            Self::Cancelled => Outcome::new(
                DisconnectReason::ClientInitiated,
                SipStatus::new(487, phrase::REQUEST_TERMINATED),
            ),
            Self::UnusableAnswer => Outcome::new(
                DisconnectReason::SipTrunkFailure,
                SipStatus::new(502, phrase::UNUSABLE_ANSWER),
            ),
        }
    }
}

/// The reason for a final non-2xx response to our INVITE, by code alone.
fn final_response_reason(code: u16) -> DisconnectReason {
    match code {
        // Busy Here, Busy Everywhere, Decline, Unwanted (RFC 8197), Rejected (RFC 8688):
        // a person or their service said no.
        486 | 600 | 603 | 607 | 608 => DisconnectReason::UserRejected,
        // Temporarily Unavailable, and a 408 *response* (the far end's own no-answer).
        480 | 408 => DisconnectReason::UserUnavailable,
        // Not Acceptable Here / Not Acceptable: the offer could not be met.
        488 | 606 => DisconnectReason::MediaFailure,
        // Everything else: 404/410/484/604 (no such number), 401/407 after our answered
        // challenge, 403, every 5xx, any other 4xx/6xx. Also what no row names: an
        // unfollowed 3xx redirect, or a code outside 300–699 handed here by mistake; the
        // proto defines SIP_TRUNK_FAILURE as "SIP protocol failure or unexpected
        // response", which covers both.
        _ => DisconnectReason::SipTrunkFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DisconnectReason::*;

    /// Every final response the table names, plus unlisted ones, with the phrase the
    /// peer sent (deliberately not always the RFC's, to show it is passed through).
    #[test]
    fn final_responses() {
        let cases: &[(u16, &str, DisconnectReason)] = &[
            (486, "Busy Here", UserRejected),
            (600, "Busy Everywhere", UserRejected),
            (603, "Decline", UserRejected),
            (607, "Unwanted", UserRejected),
            (608, "Rejected", UserRejected),
            (486, "User Busy", UserRejected),
            (480, "Temporarily Unavailable", UserUnavailable),
            (408, "Request Timeout", UserUnavailable),
            (404, "Not Found", SipTrunkFailure),
            (410, "Gone", SipTrunkFailure),
            (484, "Address Incomplete", SipTrunkFailure),
            (604, "Does Not Exist Anywhere", SipTrunkFailure),
            (401, "Unauthorized", SipTrunkFailure),
            (407, "Proxy Authentication Required", SipTrunkFailure),
            (403, "Forbidden", SipTrunkFailure),
            (500, "Server Internal Error", SipTrunkFailure),
            (502, "Bad Gateway", SipTrunkFailure),
            (503, "Service Unavailable", SipTrunkFailure),
            (504, "Server Time-out", SipTrunkFailure),
            (599, "", SipTrunkFailure),
            (488, "Not Acceptable Here", MediaFailure),
            (606, "Not Acceptable", MediaFailure),
            (420, "Bad Extension", SipTrunkFailure),
            (487, "Request Terminated", SipTrunkFailure),
            (491, "Request Pending", SipTrunkFailure),
            (699, "Whatever", SipTrunkFailure),
            (302, "Moved Temporarily", SipTrunkFailure),
            (200, "OK", SipTrunkFailure),
            (0, "", SipTrunkFailure),
        ];
        for &(code, phrase, reason) in cases {
            let status = SipStatus::new(code, phrase);
            let got = OutboundEnd::Rejected(status.clone()).outcome();
            assert_eq!(got, Outcome::new(reason, status), "{code} {phrase}");
        }
    }

    #[test]
    fn synthetic_ends() {
        let cases: Vec<(OutboundEnd, DisconnectReason, u16, &str)> = vec![
            (
                OutboundEnd::RingingTimeout {
                    response: Some(SipStatus::new(487, "Request Cancelled")),
                },
                UserUnavailable,
                487,
                "Request Cancelled",
            ),
            (
                OutboundEnd::RingingTimeout { response: None },
                UserUnavailable,
                408,
                "Ringing timeout",
            ),
            (
                OutboundEnd::RingingTimeout {
                    response: Some(SipStatus::new(200, "OK")),
                },
                UserUnavailable,
                408,
                "Ringing timeout",
            ),
            (
                OutboundEnd::NoResponse,
                ConnectionTimeout,
                408,
                "No response",
            ),
            (
                OutboundEnd::TransportFailure {
                    detail: "connection refused".into(),
                },
                SipTrunkFailure,
                503,
                "Transport failure: connection refused",
            ),
            (
                OutboundEnd::TransportFailure {
                    detail: "DNS: no such host".into(),
                },
                SipTrunkFailure,
                503,
                "Transport failure: DNS: no such host",
            ),
            (
                OutboundEnd::NoCommonCodec,
                MediaFailure,
                488,
                "No common codec",
            ),
            (
                OutboundEnd::Cancelled,
                ClientInitiated,
                487,
                "Request Terminated",
            ),
            (
                OutboundEnd::UnusableAnswer,
                SipTrunkFailure,
                502,
                "Unusable 2xx",
            ),
        ];
        for (end, reason, code, phrase) in cases {
            let got = end.outcome();
            assert_eq!(
                got,
                Outcome::new(reason, SipStatus::new(code, phrase)),
                "{end:?}"
            );
        }
    }
}
