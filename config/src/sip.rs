//! `sip:` — how the bridge listens for and sends SIP.

use serde::Deserialize;

use crate::values::{Duration, IpLiteral, ListenAddr};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sip {
    pub listen: SipListen,
    /// Certificate and key for the TLS listeners.
    pub tls: Option<SipTls>,
    /// The address peers reach us at, used in Via, Contact and (unless `rtp.external_ip` is set)
    /// SDP. Required when a listener binds the unspecified address (0.0.0.0 or ::), because the
    /// bridge cannot know which of the host's addresses the carrier sees.
    pub external_ip: Option<IpLiteral>,
    /// A DNS name to put in Via and Contact instead of `external_ip`.
    pub hostname: Option<String>,
    /// `User-Agent` / `Server` header value.
    pub user_agent: String,
    /// When true, INVITEs from addresses no inbound trunk allows get no answer at all, so port
    /// scanners cannot tell a SIP service is here (docs/OUTCOMES.md).
    pub hide_inbound_port: bool,
    pub timers: SipTimers,
}

impl Default for Sip {
    fn default() -> Self {
        Self {
            listen: SipListen::standard(),
            tls: None,
            external_ip: None,
            hostname: None,
            user_agent: concat!("sipbridge/", env!("CARGO_PKG_VERSION")).to_owned(),
            hide_inbound_port: false,
            timers: SipTimers::default(),
        }
    }
}

impl Sip {
    /// Every listener address, whatever its transport.
    pub fn all_listen_addrs(&self) -> impl Iterator<Item = &ListenAddr> {
        self.listen
            .udp
            .iter()
            .chain(&self.listen.tcp)
            .chain(&self.listen.tls)
    }
}

/// Listen addresses per transport. A transport left out of a `listen:` section is off; without a
/// `listen:` section the bridge listens on UDP and TCP 0.0.0.0:5060.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipListen {
    pub udp: Vec<ListenAddr>,
    pub tcp: Vec<ListenAddr>,
    pub tls: Vec<ListenAddr>,
}

impl SipListen {
    fn standard() -> Self {
        let any_5060 = || ListenAddr(([0, 0, 0, 0], 5060).into());
        Self {
            udp: vec![any_5060()],
            tcp: vec![any_5060()],
            tls: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipTls {
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key.
    pub key: String,
}

/// RFC 3261 §17.1.1.1 timer values. The defaults are the RFC's; lower T1 only on networks with a
/// known short round trip.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipTimers {
    /// Round-trip estimate; retransmissions start here and timeouts are 64·T1.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// Longest time a message stays in the network.
    pub t4: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}
