//! The Via header (RFC 3261 §20.42, §18.2.1; `rport` RFC 3581).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ezk_sip_types::host::HostPort;

use super::grammar::{is_lws, is_token, trim_lws};
use super::params::Params;
use super::uri::Host;
use crate::Error;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7); without it the peer is an
/// RFC 2543 element and transactions are matched the old way (§17.2.3).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`… upper-cased.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, sent_by: SocketAddr, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch.to_owned()));
        Self {
            transport: transport.to_ascii_uppercase(),
            host: Host::Ip(sent_by.ip()),
            port: Some(sent_by.port()),
            params,
        }
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }

    /// Server transport rule (RFC 3261 §18.2.1): add `received` when the packet came from an
    /// address other than sent-by, and fill in an empty `rport` (RFC 3581 §4).
    pub fn stamp_source(&mut self, source: SocketAddr) {
        if self.host != Host::Ip(source.ip()) || self.params.contains("rport") {
            self.params.set("received", Some(source.ip().to_string()));
        }
        if self.params.contains("rport") {
            self.params.set("rport", Some(source.port().to_string()));
        }
    }

    /// Where a response to this Via goes without a connection to reuse (RFC 3261 §18.2.2,
    /// RFC 3581 §4): `received`/`rport` when present, else sent-by with the default port.
    pub fn response_target(&self) -> Option<SocketAddr> {
        let ip = match self.params.value("received") {
            Some(received) => received.parse::<IpAddr>().ok()?,
            None => match &self.host {
                Host::Ip(ip) => *ip,
                Host::Name(_) => return None,
            },
        };
        let rport = self.params.value("rport").and_then(|p| p.parse().ok());
        let default = if self.transport == "TLS" { 5061 } else { 5060 };
        Some(SocketAddr::new(ip, rport.or(self.port).unwrap_or(default)))
    }

    /// Parses one Via value: `SIP / 2.0 / transport sent-by *(;param)`, LWS allowed around
    /// the slashes (RFC 4475 §3.1.1.1).
    pub(crate) fn parse(value: &str) -> Result<Self, Error> {
        let bad = |why| Error::InvalidHeader { header: "Via", why };
        let mut parts = value.splitn(3, '/');
        let (Some(protocol), Some(version), Some(rest)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected SIP/2.0/transport"));
        };
        if !trim_lws(protocol).eq_ignore_ascii_case("SIP") {
            return Err(bad("protocol is not SIP"));
        }
        if trim_lws(version) != "2.0" {
            return Err(Error::Version(trim_lws(version).to_owned()));
        }
        let rest = trim_lws(rest);
        let transport_len = rest.find(is_lws).ok_or(bad("no sent-by"))?;
        let transport = &rest[..transport_len];
        if !is_token(transport) {
            return Err(bad("invalid transport"));
        }
        let rest = trim_lws(&rest[transport_len..]);
        let sent_by_len = rest.find(|c| c == ';' || is_lws(c)).unwrap_or(rest.len());
        let sent_by: HostPort = rest[..sent_by_len]
            .parse()
            .map_err(|_| bad("invalid sent-by"))?;
        let params = Params::parse(&rest[sent_by_len..], "Via")?;
        let via = Self {
            transport: transport.to_ascii_uppercase(),
            host: Host::from_ezk(&sent_by.host),
            port: sent_by.port,
            params,
        };
        if via.params.get("branch").is_some_and(|b| b.value.is_none()) {
            return Err(bad("branch without a value"));
        }
        Ok(via)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_whitespace() {
        let via = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.branch(), Some("390skdjuw"));
        assert!(!via.is_rfc3261());
        assert_eq!(via.to_string(), "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw");
    }

    #[test]
    fn rport_and_received_follow_rfc_3581() {
        let mut via = Via::parse("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport").unwrap();
        via.stamp_source("203.0.113.9:40000".parse().unwrap());
        assert_eq!(
            via.to_string(),
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport=40000;received=203.0.113.9"
        );
        assert_eq!(
            via.response_target(),
            Some("203.0.113.9:40000".parse().unwrap())
        );

        let mut plain = Via::parse("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK2").unwrap();
        plain.stamp_source("192.0.2.1:5070".parse().unwrap());
        assert!(!plain.params.contains("received"));
        assert_eq!(
            plain.response_target(),
            Some("192.0.2.1:5070".parse().unwrap())
        );
    }

    #[test]
    fn rejects_malformed_vias() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/2.0 UDP h",
            "HTTP/2.0/UDP h",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Via::parse("SIP/7.0/UDP h"),
            Err(Error::Version("7.0".into()))
        );
    }
}
