//! URIs: `sip:`/`sips:` parsed with ezk-sip-types, `tel:` (RFC 3966) and any other scheme
//! kept as text so that a header naming one still parses (RFC 4475 §3.3.4) while a
//! Request-URI naming one gets 416 (§3.3.2).
//!
//! Every URI keeps the exact text it was parsed from and prints it back unchanged: route
//! sets and remote targets must be used as received (RFC 3261 §12.1), and re-encoding a
//! URI could change how the peer compares it.

use std::fmt;
use std::net::IpAddr;

use ezk_sip_types::host::Host as EzkHost;
use ezk_sip_types::uri::{SipUri as EzkSipUri, SipUriUserPart};

use super::params::{Param, Params};
use crate::Error;

/// A URI of any scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// `tel:+15551234567;phone-context=…` (RFC 3966); `number` is without visual separators.
    Tel {
        raw: String,
        number: String,
    },
    /// A scheme we do not interpret, e.g. `isbn:` in a To header.
    Other {
        raw: String,
        scheme: String,
    },
}

impl Uri {
    /// Parses a URI; `header` names where it came from, for the error.
    pub(crate) fn parse(text: &str, header: &'static str) -> Result<Self, Error> {
        let bad = |why| Error::InvalidHeader { header, why };
        let colon = text.find(':').ok_or(bad("URI without a scheme"))?;
        let scheme = &text[..colon];
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(bad("invalid URI scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse(text)
                .ok_or(bad("malformed SIP URI"))
                .map(Uri::Sip);
        }
        if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad("whitespace in URI"));
        }
        // Not allowed unescaped in any URI (RFC 3986 §2); printed inside <> they would end it.
        if text.contains(['<', '>', '"']) {
            return Err(bad("'<', '>' or '\"' in URI"));
        }
        if scheme.eq_ignore_ascii_case("tel") {
            let subscriber = text[colon + 1..].split(';').next().unwrap_or_default();
            let number: String = subscriber
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                .collect();
            if number.is_empty() {
                return Err(bad("tel URI without a number"));
            }
            return Ok(Uri::Tel {
                raw: text.to_owned(),
                number,
            });
        }
        Ok(Uri::Other {
            raw: text.to_owned(),
            scheme: scheme.to_owned(),
        })
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(uri) => Some(uri),
            _ => None,
        }
    }

    /// The user part of a SIP URI or the number of a tel URI: the phone number, usually.
    pub fn user(&self) -> Option<&str> {
        match self {
            Uri::Sip(uri) => uri.user.as_deref(),
            Uri::Tel { number, .. } => Some(number),
            Uri::Other { .. } => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(uri) => f.write_str(&uri.raw),
            Uri::Tel { raw, .. } | Uri::Other { raw, .. } => f.write_str(raw),
        }
    }
}

/// A host in a URI or Via.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    pub(crate) fn from_ezk(host: &EzkHost) -> Self {
        match host {
            EzkHost::IP4(ip) => Host::Ip(IpAddr::V4(*ip)),
            EzkHost::IP6(ip) => Host::Ip(IpAddr::V6(*ip)),
            EzkHost::Name(name) => Host::Name(name.to_string()),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    raw: String,
    pub secure: bool,
    /// The user part, percent-decoded (`%2B1555` → `+1555`).
    pub user: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    /// `;transport=tcp`, `;lr`, `;user=phone`… as written.
    pub params: Params,
    /// Whether the URI carries `?header=value` parts (not allowed in a Request-URI).
    pub has_headers: bool,
}

impl SipUri {
    /// Parses a complete SIP URI: ezk-sip-types checks the syntax and decodes user and host;
    /// the parameters are split from the text here because ezk keeps them private.
    pub fn parse(text: &str) -> Option<Self> {
        let uri: EzkSipUri = text.parse().ok()?;
        let user = match &uri.user_part {
            SipUriUserPart::Empty => None,
            SipUriUserPart::User(user) => Some(user.to_string()),
            SipUriUserPart::UserPw(user_pw) => Some(user_pw.user.to_string()),
        };
        // Userinfo cannot hold an unescaped '@' and neither can parameters, so the last '@'
        // before any headers ends the userinfo (the user may contain ';', RFC 4475 §3.1.1.10).
        let before_headers = text.split('?').next().unwrap_or(text);
        let after_user = before_headers
            .rfind('@')
            .map_or_else(|| before_headers.find(':').map_or(0, |i| i + 1), |i| i + 1);
        let mut params = Params::new();
        for param in before_headers[after_user..].split(';').skip(1) {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (param, None),
            };
            params.set(name, value);
        }
        Some(Self {
            raw: text.to_owned(),
            secure: uri.sips,
            user,
            host: Host::from_ezk(&uri.host_port.host),
            port: uri.host_port.port,
            params,
            has_headers: !uri.header_params.is_empty(),
        })
    }

    /// Builds `sip:[user@]host[:port][;params]`; the user is percent-encoded where needed.
    pub fn build(user: Option<&str>, host: &Host, port: Option<u16>, params: &[Param]) -> Self {
        let mut text = String::from("sip:");
        if let Some(user) = user {
            for c in user.chars() {
                if c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c) {
                    text.push(c);
                } else {
                    for byte in c.to_string().bytes() {
                        text.push_str(&format!("%{byte:02X}"));
                    }
                }
            }
            text.push('@');
        }
        text.push_str(&host.to_string());
        if let Some(port) = port {
            text.push_str(&format!(":{port}"));
        }
        let mut param_list = Params::new();
        for param in params {
            param_list.set(&param.name, param.value.clone());
        }
        text.push_str(&param_list.to_string());
        Self {
            raw: text,
            secure: false,
            user: user.map(str::to_owned),
            host: host.clone(),
            port,
            params: param_list,
            has_headers: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `;transport=` in lower case, if present.
    pub fn transport(&self) -> Option<String> {
        self.params.value("transport").map(str::to_ascii_lowercase)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_keeps_text_and_splits_params() {
        let uri = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(uri.user.as_deref(), Some("user;par=u@example.net"));
        assert_eq!(uri.host, Host::Name("example.com".into()));
        assert!(uri.params.is_empty());

        let uri = SipUri::parse("sip:%2B15551234567@10.0.0.1:5080;transport=TCP;lr").unwrap();
        assert_eq!(uri.user.as_deref(), Some("+15551234567"));
        assert_eq!(uri.port, Some(5080));
        assert_eq!(uri.transport().as_deref(), Some("tcp"));
        assert!(uri.params.contains("lr"));
        assert_eq!(
            uri.to_string(),
            "sip:%2B15551234567@10.0.0.1:5080;transport=TCP;lr"
        );
    }

    #[test]
    fn other_schemes_parse_as_text() {
        let uri = Uri::parse("tel:+1-555-123-4567;phone-context=x", "To").unwrap();
        assert_eq!(uri.user(), Some("+15551234567"));
        assert!(matches!(
            Uri::parse("isbn:2983792873", "To").unwrap(),
            Uri::Other { .. }
        ));
        assert!(Uri::parse("<sip:a@b>", "To").is_err());
        assert!(Uri::parse("sip:a b@c", "To").is_err());
        // Found by the `message` fuzz target: printed as <Csip:a@b>> it did not parse back.
        assert!(Uri::parse("Csip:a@b>", "Contact").is_err());
    }

    #[test]
    fn builds_uris_that_parse_back() {
        let host = Host::Ip("192.0.2.1".parse().unwrap());
        let tcp = [Param {
            name: "transport".into(),
            value: Some("tcp".into()),
        }];
        let uri = SipUri::build(Some("+1 555"), &host, Some(5060), &tcp);
        assert_eq!(uri.as_str(), "sip:+1%20555@192.0.2.1:5060;transport=tcp");
        assert_eq!(SipUri::parse(uri.as_str()).unwrap(), uri);
    }
}
