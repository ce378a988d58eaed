//! Value types of the configuration. Each one checks its text while it is deserialized, so a bad
//! value is reported at its own line and column with a message that quotes it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, de};

/// Implements `Deserialize` for a type through its `FromStr`, whose error is the message shown to
/// the user (the deserializer adds the position).
macro_rules! deserialize_from_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

/// A duration written as one or more `<integer><unit>` parts: `500ms`, `30s`, `2m`, `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        Self(std::time::Duration::from_secs(s))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a duration (write e.g. 500ms, 30s, 2m, 1h30m)");
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total_ms: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let per_unit_ms = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total_ms = number
                .checked_mul(per_unit_ms)
                .and_then(|ms| total_ms.checked_add(ms))
                .ok_or_else(bad)?;
        }
        Ok(Self::from_millis(total_ms))
    }
}
deserialize_from_str!(Duration);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A secret (API secret, SIP password). Its `Debug` never shows the value, so a config printed in
/// a log line or a panic message leaks nothing.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself: call this only where the secret is used (signing, digest).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A local `ip:port` to listen on (`0.0.0.0:5060`, `[::]:5060`, `127.0.0.1:0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse().map(Self).map_err(|_| {
            format!("{text:?} is not an ip:port address (e.g. 0.0.0.0:5060 or [::]:5060)")
        })
    }
}
deserialize_from_str!(ListenAddr);

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IP address literal (`external_ip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpLiteral(pub IpAddr);

impl FromStr for IpLiteral {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse()
            .map(Self)
            .map_err(|_| format!("{text:?} is not an IP address"))
    }
}
deserialize_from_str!(IpLiteral);

/// A network allowed to send calls: an address (`203.0.113.7`) or a CIDR block (`10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedNet(pub IpNet);

impl AllowedNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl FromStr for AllowedNet {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self(IpNet::from(ip)));
        }
        text.parse()
            .map(Self)
            .map_err(|_| format!("{text:?} is not an IP or CIDR"))
    }
}
deserialize_from_str!(AllowedNet);

/// A phone number as carriers send it in the user part of a SIP URI: digits with an optional
/// leading `+` (E.164). Separators such as spaces or dashes are rejected rather than guessed at,
/// because the number is matched literally against incoming requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PhoneNumber {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix('+').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} is not a phone number (digits with an optional leading +, e.g. +15550100)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}
deserialize_from_str!(PhoneNumber);

/// The id of a trunk or dispatch rule: what API requests, CDRs and metrics refer to it by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Id {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        if text.is_empty() || text.len() > 64 || !text.bytes().all(allowed) {
            return Err(format!(
                "{text:?} is not an id (1-64 characters from A-Z a-z 0-9 _ - .)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}
deserialize_from_str!(Id);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SIP header name: an RFC 3261 §25.1 `token`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HeaderName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
        if text.is_empty() || !text.bytes().all(token) {
            return Err(format!(
                "{text:?} is not a SIP header name (RFC 3261 token)"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}
deserialize_from_str!(HeaderName);

/// A SIP peer's `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address.
/// The port is optional; without one the transport's default applies (5060, or 5061 for TLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: Option<u16>,
}

impl FromStr for HostPort {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a host[:port] (e.g. sip.example.net:5060, 192.0.2.1, [2001:db8::1]:5080)"
            )
        };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
            v6.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            match after {
                "" => (v6, None),
                _ => (v6, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?),
            None => None,
        };
        if !text.starts_with('[') && !is_dns_name(host) {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}
deserialize_from_str!(HostPort);

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?
        } else {
            f.write_str(&self.host)?
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// RFC 1123 host name (an IPv4 literal also matches).
pub fn is_dns_name(host: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("500ms".parse(), Ok(Duration::from_millis(500)));
        assert_eq!("1h30m".parse(), Ok(Duration::from_secs(5400)));
        assert_eq!("0s".parse(), Ok(Duration::from_secs(0)));
        for bad in ["", "30", "s", "30x", "1.5s", "-1s", "99999999999999999999h"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn allowed_nets() {
        assert!(
            "10.0.0.0/8"
                .parse::<AllowedNet>()
                .unwrap()
                .contains([10, 1, 2, 3].into())
        );
        assert!(
            "203.0.113.7"
                .parse::<AllowedNet>()
                .unwrap()
                .contains([203, 0, 113, 7].into())
        );
        assert!(
            !"203.0.113.7"
                .parse::<AllowedNet>()
                .unwrap()
                .contains([203, 0, 113, 8].into())
        );
        assert_eq!(
            "10.0.0.0/33".parse::<AllowedNet>(),
            Err(r#""10.0.0.0/33" is not an IP or CIDR"#.to_owned())
        );
    }

    #[test]
    fn host_ports() {
        let hp: HostPort = "sip.example.net:5080".parse().unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("sip.example.net", Some(5080)));
        let hp: HostPort = "[2001:db8::1]".parse().unwrap();
        assert_eq!(
            (hp.host.as_str(), hp.port, hp.to_string()),
            ("2001:db8::1", None, "[2001:db8::1]".into())
        );
        for bad in [
            "",
            "sip:x.example",
            "x.example:0",
            "x.example:70000",
            "[::1",
            "a_b.example",
            "2001:db8::1",
        ] {
            assert!(bad.parse::<HostPort>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phone_numbers_and_ids() {
        assert!("+15550100".parse::<PhoneNumber>().is_ok());
        assert!("15550100".parse::<PhoneNumber>().is_ok());
        for bad in ["", "+", "+1 555 0100", "abc"] {
            assert!(bad.parse::<PhoneNumber>().is_err(), "{bad:?} accepted");
        }
        assert!("carrier-a.out_1".parse::<Id>().is_ok());
        assert!("has space".parse::<Id>().is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
