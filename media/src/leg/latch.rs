//! Symmetric RTP (RFC 4961): send to where the phone's RTP comes from, not (only) to the
//! address in its SDP, which behind NAT is a private address we cannot reach.

use std::net::{IpAddr, SocketAddr};

/// When to latch onto the source address of the phone's RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latching {
    /// When the SDP address is private, shared (CGNAT), link-local or unspecified.
    Auto,
    Always,
    Never,
}

/// Where to send, and which sources to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latch {
    sdp: SocketAddr,
    latched: Option<SocketAddr>,
    enabled: bool,
}

impl Latch {
    pub fn new(sdp: SocketAddr, latching: Latching) -> Self {
        let enabled = match latching {
            Latching::Always => true,
            Latching::Never => false,
            Latching::Auto => !is_routable(sdp.ip()),
        };
        Self {
            sdp,
            latched: None,
            enabled,
        }
    }

    /// Where our RTP goes.
    pub fn destination(&self) -> SocketAddr {
        self.latched.unwrap_or(self.sdp)
    }

    /// Whether to accept a packet from `source`; `Some(address)` the first time it latches.
    /// Once latched, other sources are refused so a stray stream cannot hijack the call.
    pub fn accept(&mut self, source: SocketAddr) -> (bool, Option<SocketAddr>) {
        match self.latched {
            Some(latched) => (latched == source, None),
            None if self.enabled => {
                self.latched = Some(source);
                (true, Some(source))
            }
            None => (true, None),
        }
    }
}

/// Whether an address in SDP can be sent to as it is.
fn is_routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b); // RFC 6598 CGNAT
            !(v4.is_private() || v4.is_link_local() || v4.is_unspecified() || shared)
        }
        IpAddr::V6(v6) => {
            let unique_local = v6.segments()[0] & 0xfe00 == 0xfc00;
            let link_local = v6.segments()[0] & 0xffc0 == 0xfe80;
            !(v6.is_unspecified() || unique_local || link_local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn auto_latches_only_for_unreachable_sdp_addresses() {
        for (sdp, latches) in [
            ("192.168.1.10:4000", true),
            ("10.0.0.1:4000", true),
            ("100.64.3.3:4000", true),
            ("0.0.0.0:4000", true),
            ("[fd00::1]:4000", true),
            ("203.0.113.7:4000", false),
            ("127.0.0.1:4000", false),
        ] {
            let mut latch = Latch::new(addr(sdp), Latching::Auto);
            let (ok, latched) = latch.accept(addr("198.51.100.1:5000"));
            assert!(ok);
            assert_eq!(latched.is_some(), latches, "{sdp}");
        }
    }

    #[test]
    fn once_latched_other_sources_are_refused() {
        let mut latch = Latch::new(addr("203.0.113.7:4000"), Latching::Always);
        assert_eq!(latch.destination(), addr("203.0.113.7:4000"));
        let phone = addr("198.51.100.1:5000");
        assert_eq!(latch.accept(phone), (true, Some(phone)));
        assert_eq!(latch.destination(), phone);
        assert_eq!(latch.accept(phone), (true, None));
        assert_eq!(latch.accept(addr("198.51.100.9:5000")), (false, None));
        let mut never = Latch::new(addr("10.0.0.1:4000"), Latching::Never);
        assert_eq!(never.accept(phone), (true, None));
        assert_eq!(never.destination(), addr("10.0.0.1:4000"));
    }
}
