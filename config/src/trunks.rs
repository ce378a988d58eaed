//! `inbound_trunks:` and `outbound_trunks:` — the carriers and PBXs the bridge talks to.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::values::{AllowedNet, HeaderName, HostPort, Id, PhoneNumber, Secret};

/// Who may send us calls, and what their calls may be for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundTrunk {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    /// Called numbers this trunk accepts; empty accepts any.
    #[serde(default)]
    pub numbers: Vec<PhoneNumber>,
    /// Source addresses (IP or CIDR) calls may come from; empty accepts any, so set it (or
    /// `auth`) on every trunk reachable from the internet.
    #[serde(default)]
    pub allowed_addresses: Vec<AllowedNet>,
    /// Caller numbers allowed; empty accepts any.
    #[serde(default)]
    pub allowed_numbers: Vec<PhoneNumber>,
    /// Digest credentials the caller must present (407 challenge).
    pub auth: Option<Credentials>,
    /// Digest algorithms offered in the 407, one `Proxy-Authenticate` each, preferred first
    /// (RFC 8760). Many user agents answer only the first challenge and know only MD5: list
    /// `MD5` first (or alone) for those.
    #[serde(default = "default_auth_algorithms")]
    pub auth_algorithms: Vec<DigestAlgorithm>,
    /// SIP headers of the INVITE copied into participant attributes: header name → attribute.
    #[serde(default)]
    pub headers_to_attributes: BTreeMap<HeaderName, String>,
    /// The other way: the caller's participant attributes (as room members or the server
    /// API set them) sent as SIP headers on our BYE and REFER: attribute → header name.
    #[serde(default)]
    pub attributes_to_headers: BTreeMap<String, HeaderName>,
    /// Which other INVITE headers become `sip.h.<lower-case name>` attributes.
    #[serde(default)]
    pub include_headers: IncludeHeaders,
}

/// LiveKit's `SIPHeaderOptions`, as the YAML writes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncludeHeaders {
    #[default]
    None,
    /// The `X-` headers.
    XHeaders,
    All,
}

fn default_auth_algorithms() -> Vec<DigestAlgorithm> {
    vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
}

/// Where we place calls and how we present ourselves.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundTrunk {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    /// The carrier's SIP server, `host[:port]`.
    pub address: HostPort,
    #[serde(default)]
    pub transport: Transport,
    /// Numbers we may call from (the From user part); the first is the default.
    pub numbers: Vec<PhoneNumber>,
    /// Digest credentials for the carrier's 401/407 challenges.
    pub auth: Option<Credentials>,
    /// Extra SIP headers put on every INVITE: header name → value.
    #[serde(default)]
    pub headers: BTreeMap<HeaderName, String>,
    /// SIP headers of the callee's 200 OK copied into participant attributes: header name →
    /// attribute.
    #[serde(default)]
    pub headers_to_attributes: BTreeMap<HeaderName, String>,
    /// The callee's participant attributes sent as SIP headers on our BYE and REFER:
    /// attribute → header name.
    #[serde(default)]
    pub attributes_to_headers: BTreeMap<String, HeaderName>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
        }
    }
}
