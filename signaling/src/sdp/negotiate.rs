//! What both sides of offer/answer share: reading the peer's audio section into the values
//! of a [`Negotiated`] (where to send, how long the packets, which way media flows).

use std::net::SocketAddr;

use super::description::{ConnectionAddress, MediaDescription, SessionDescription};
use super::types::MediaDirection;
use crate::Error;

/// Packet length when the peer says nothing (RFC 3551 §4.5: 20 ms for the G.711 family).
pub(crate) const DEFAULT_PTIME_MS: u32 = 20;
const MIN_PTIME_MS: u32 = 10;
const MAX_PTIME_MS: u32 = 60;

/// Where the peer wants RTP: the section's `c=` else the session's, with the `m=` port.
pub(crate) fn remote_address(
    sdp: &SessionDescription,
    media: &MediaDescription,
) -> Result<SocketAddr, Error> {
    match media.connection_or(sdp) {
        Some(ConnectionAddress::Ip(ip)) => Ok(SocketAddr::new(*ip, media.port)),
        Some(ConnectionAddress::Host(host)) => Err(Error::SdpHostAddress { host: host.clone() }),
        None => Err(Error::SdpNoConnection),
    }
}

/// The direction the peer wrote for this stream, from the peer's side: the section's
/// attribute, else the session's, else sendrecv (RFC 3264 §5.1). A `c=0.0.0.0` means the
/// peer does not want to receive, whatever the attribute says (RFC 3264 §8.4).
pub(crate) fn peer_direction(sdp: &SessionDescription, media: &MediaDescription) -> MediaDirection {
    let written = media
        .direction
        .or(sdp.direction)
        .unwrap_or(MediaDirection::SendRecv);
    if media
        .connection_or(sdp)
        .is_some_and(ConnectionAddress::is_unspecified)
    {
        intersect(written, MediaDirection::SendOnly)
    } else {
        written
    }
}

/// The same stream seen from the other end: what one side sends, the other receives.
pub(crate) fn reverse(direction: MediaDirection) -> MediaDirection {
    match direction {
        MediaDirection::SendRecv => MediaDirection::SendRecv,
        MediaDirection::SendOnly => MediaDirection::RecvOnly,
        MediaDirection::RecvOnly => MediaDirection::SendOnly,
        MediaDirection::Inactive => MediaDirection::Inactive,
    }
}

/// Media flows one way only if both sides allow it (RFC 3264 §6.1).
pub(crate) fn intersect(a: MediaDirection, b: MediaDirection) -> MediaDirection {
    match (a.sends() && b.sends(), a.receives() && b.receives()) {
        (true, true) => MediaDirection::SendRecv,
        (true, false) => MediaDirection::SendOnly,
        (false, true) => MediaDirection::RecvOnly,
        (false, false) => MediaDirection::Inactive,
    }
}

/// The direction attribute (RFC 8866 §6.7).
pub(crate) fn direction_attribute(direction: MediaDirection) -> &'static str {
    match direction {
        MediaDirection::SendRecv => "sendrecv",
        MediaDirection::SendOnly => "sendonly",
        MediaDirection::RecvOnly => "recvonly",
        MediaDirection::Inactive => "inactive",
    }
}

/// The packet length we send with: the peer's `a=ptime` (what it wants to receive, RFC
/// 8866 §6.4), held under its `a=maxptime`, in the 10 ms steps every codec here packs, from
/// 10 to 60 ms. Zero or absent means the default.
pub(crate) fn ptime_ms(media: &MediaDescription) -> u32 {
    let wanted = media
        .ptime
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_PTIME_MS)
        .min(MAX_PTIME_MS);
    let rounded = ((wanted + 5) / 10 * 10).clamp(MIN_PTIME_MS, MAX_PTIME_MS);
    match media.maxptime.filter(|m| *m > 0) {
        // Rounding must not take us over the peer's limit.
        Some(max) if rounded > max => (max / 10 * 10).max(MIN_PTIME_MS),
        _ => rounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(ptime: Option<u32>, maxptime: Option<u32>) -> MediaDescription {
        MediaDescription {
            media: "audio".into(),
            port: 4000,
            proto: "RTP/AVP".into(),
            formats: vec!["0".into()],
            connection: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            ptime,
            maxptime,
            direction: None,
            rtcp: None,
            crypto: false,
        }
    }

    #[test]
    fn ptime_is_rounded_clamped_and_kept_under_maxptime() {
        let cases = [
            (None, None, 20),
            (Some(0), None, 20),
            (Some(20), Some(150), 20),
            (Some(30), None, 30),
            (Some(25), None, 30),
            (Some(24), None, 20),
            (Some(5), None, 10),
            (Some(1), None, 10),
            (Some(90), None, 60),
            (Some(u32::MAX), None, 60),
            (None, Some(10), 10),
            (Some(40), Some(35), 30),
            (Some(20), Some(5), 10),
        ];
        for (ptime, maxptime, expected) in cases {
            assert_eq!(
                ptime_ms(&media(ptime, maxptime)),
                expected,
                "{ptime:?} {maxptime:?}"
            );
        }
    }

    #[test]
    fn directions_reverse_and_intersect() {
        use MediaDirection::*;
        for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(reverse(reverse(d)), d);
            assert_eq!(intersect(d, SendRecv), d);
            assert_eq!(intersect(d, Inactive), Inactive);
        }
        assert_eq!(reverse(SendOnly), RecvOnly);
        assert_eq!(intersect(SendOnly, RecvOnly), Inactive);
        assert_eq!(intersect(RecvOnly, SendRecv), RecvOnly);
    }
}
