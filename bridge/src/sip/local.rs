//! The addresses we advertise in Via and Contact (`sip.external_ip` or `sip.hostname`, the
//! bound ports) and in SDP (`rtp.external_ip`).

use std::net::IpAddr;

use sipbridge_signaling::message::{Host, NameAddr, Param, Params, SipUri, Uri, Via};
use sipbridge_signaling::transaction::{Transport, make_branch};

/// The addresses we put in Via, Contact and SDP.
#[derive(Debug, Clone)]
pub struct LocalAddresses {
    /// The address carriers reach us at (`sip.external_ip`, else the listen address).
    pub sip_ip: IpAddr,
    /// `sip.hostname`: put in Via and Contact instead of the address when set.
    pub hostname: Option<String>,
    pub udp_port: Option<u16>,
    pub tcp_port: Option<u16>,
    /// The address in SDP `c=` (`rtp.external_ip`, else the SIP one).
    pub rtp_ip: IpAddr,
}

impl LocalAddresses {
    /// Our host in Via and Contact.
    fn host(&self) -> Host {
        self.hostname
            .clone()
            .map_or(Host::Ip(self.sip_ip), Host::Name)
    }

    fn port(&self, transport: Transport) -> u16 {
        let port = match transport {
            Transport::Udp => self.udp_port,
            Transport::Tcp | Transport::Tls => self.tcp_port,
        };
        port.or(self.udp_port).or(self.tcp_port).unwrap_or(5060)
    }

    /// Our Contact for a dialog on `transport` (RFC 3261 §8.1.1.8).
    pub fn contact(&self, transport: Transport) -> NameAddr {
        let params: Vec<Param> = match transport {
            Transport::Udp => Vec::new(),
            other => vec![Param {
                name: "transport".into(),
                value: Some(other.via_name().to_ascii_lowercase()),
            }],
        };
        let uri = SipUri::build(None, &self.host(), Some(self.port(transport)), &params);
        NameAddr::new(Uri::Sip(uri))
    }

    /// A Via for a request we send on `transport`, with a fresh branch and `rport` (RFC
    /// 3581: answer us where the request came from).
    pub fn via(&self, transport: Transport) -> Via {
        let mut params = Params::new();
        params.set("branch", Some(make_branch(rand::random())));
        params.set("rport", None);
        Via {
            transport: transport.via_name().to_owned(),
            host: self.host(),
            port: Some(self.port(transport)),
            params,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn local(hostname: Option<&str>) -> LocalAddresses {
        LocalAddresses {
            sip_ip: "203.0.113.10".parse().unwrap(),
            hostname: hostname.map(str::to_owned),
            udp_port: Some(5060),
            tcp_port: Some(5070),
            rtp_ip: "203.0.113.11".parse().unwrap(),
        }
    }

    #[test]
    fn via_and_contact_name_the_external_address_or_the_hostname() {
        let by_ip = local(None);
        assert_eq!(
            by_ip.contact(Transport::Udp).to_string(),
            "<sip:203.0.113.10:5060>"
        );
        assert_eq!(
            by_ip.contact(Transport::Tcp).to_string(),
            "<sip:203.0.113.10:5070;transport=tcp>"
        );
        let via = by_ip.via(Transport::Udp).to_string();
        assert!(
            via.starts_with("SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK"),
            "{via}"
        );
        assert!(via.ends_with(";rport"), "{via}");

        let by_name = local(Some("sip.example.com"));
        assert_eq!(
            by_name.contact(Transport::Udp).to_string(),
            "<sip:sip.example.com:5060>"
        );
        assert!(
            by_name
                .via(Transport::Tcp)
                .to_string()
                .starts_with("SIP/2.0/TCP sip.example.com:5070;")
        );
    }
}
