//! `Authorization` / `Proxy-Authorization` values (RFC 2617 §3.2.2, RFC 3261 §25.1
//! `digest-response`).

use std::fmt;

use super::digest::nc_hex;
use super::params::{self, Param};
use super::{Algorithm, Qop};
use crate::Error;

/// Digest credentials as sent by a client.
///
/// `Debug` leaves out `response`: it is a password hash an eavesdropper of our logs could attack
/// offline.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// `digest-uri`: the Request-URI as the client saw it (RFC 2617 §3.2.2.5).
    pub uri: String,
    /// Hex digest proving knowledge of the password.
    pub response: String,
    /// `MD5` when absent.
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    /// `None`: RFC 2069 mode, no cnonce and nc.
    pub qop: Option<Qop>,
    /// Nonce count; present exactly when `qop` is (both are checked by [`Credentials::parse`]).
    pub nc: Option<u32>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("cnonce", &self.cnonce)
            .field("opaque", &self.opaque)
            .field("qop", &self.qop)
            .field("nc", &self.nc)
            .finish()
    }
}

/// `nc-value = 8LHEX` (RFC 2617 §3.2.2). Upper-case digits are tolerated; anything else is not.
fn parse_nc(value: &str) -> Result<u32, Error> {
    let invalid = Error::DigestInvalidParam { name: "nc" };
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid);
    }
    u32::from_str_radix(value, 16).map_err(|_| invalid)
}

impl Credentials {
    /// Parses one header value.
    ///
    /// With a qop, `cnonce` and `nc` are required (RFC 2617 §3.2.2: "MUST be specified if a
    /// qop directive is sent"); an unknown algorithm is [`Error::DigestUnsupportedAlgorithm`];
    /// an unknown qop is invalid (the client must pick one the server offered).
    pub fn parse(value: &str) -> Result<Self, Error> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = Algorithm::Md5;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        for Param { name, value } in params::parse(value)? {
            match name.as_str() {
                "username" => username = Some(value),
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "uri" => uri = Some(value),
                "response" => response = Some(value),
                "algorithm" => algorithm = Algorithm::parse(&value)?,
                "cnonce" => cnonce = Some(value),
                "opaque" => opaque = Some(value),
                "qop" => {
                    qop = Some(Qop::parse(&value).ok_or(Error::DigestInvalidParam { name: "qop" })?)
                }
                "nc" => nc = Some(parse_nc(&value)?),
                _ => {}
            }
        }
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(Error::DigestMissingParam { name: "cnonce" });
            }
            if nc.is_none() {
                return Err(Error::DigestMissingParam { name: "nc" });
            }
        } else {
            // Without qop the client must not send them (RFC 2617 §3.2.2); dropping them keeps
            // the invariant "nc and cnonce present exactly with qop".
            cnonce = None;
            nc = None;
        }
        Ok(Self {
            username: username.ok_or(Error::DigestMissingParam { name: "username" })?,
            realm: realm.ok_or(Error::DigestMissingParam { name: "realm" })?,
            nonce: nonce.ok_or(Error::DigestMissingParam { name: "nonce" })?,
            uri: uri.ok_or(Error::DigestMissingParam { name: "uri" })?,
            response: response.ok_or(Error::DigestMissingParam { name: "response" })?,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
        })
    }
}

/// Prints the value the way RFC 2617 §3.5 and RFC 3261 §25.1 spell it: qop, nc and algorithm
/// as tokens, everything else quoted.
impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::from("Digest username=");
        params::push_quoted(&mut out, &self.username);
        out.push_str(", realm=");
        params::push_quoted(&mut out, &self.realm);
        out.push_str(", nonce=");
        params::push_quoted(&mut out, &self.nonce);
        out.push_str(", uri=");
        params::push_quoted(&mut out, &self.uri);
        out.push_str(", response=");
        params::push_quoted(&mut out, &self.response);
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.as_str());
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", cnonce=");
            params::push_quoted(&mut out, cnonce);
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            params::push_quoted(&mut out, opaque);
        }
        if let Some(qop) = self.qop {
            out.push_str(", qop=");
            out.push_str(qop.as_str());
        }
        if let Some(nc) = self.nc {
            out.push_str(", nc=");
            out.push_str(&nc_hex(nc));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RFC_2617: &str = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
        nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn parses_rfc_2617_example_and_prints_it_back() {
        let c = Credentials::parse(RFC_2617).unwrap();
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!(Credentials::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn debug_redacts_the_response() {
        let c = Credentials::parse(RFC_2617).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("6629fae4"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn nc_must_be_eight_hex_digits() {
        for bad in ["0000001", "000000001", "0000000g", "+0000001", "\"\"", "-1"] {
            let value = RFC_2617.replace("nc=00000001", &format!("nc={bad}"));
            assert!(Credentials::parse(&value).is_err(), "{bad}");
        }
        let upper = RFC_2617.replace("nc=00000001", "nc=0000000A");
        assert_eq!(Credentials::parse(&upper).unwrap().nc, Some(10));
    }

    #[test]
    fn qop_requires_cnonce_and_nc() {
        let no_cnonce = RFC_2617.replace("cnonce=\"0a4f113b\", ", "");
        assert_eq!(
            Credentials::parse(&no_cnonce),
            Err(Error::DigestMissingParam { name: "cnonce" })
        );
        let no_nc = RFC_2617.replace("nc=00000001, ", "");
        assert_eq!(
            Credentials::parse(&no_nc),
            Err(Error::DigestMissingParam { name: "nc" })
        );
        let bad_qop = RFC_2617.replace("qop=auth", "qop=auth-conf");
        assert_eq!(
            Credentials::parse(&bad_qop),
            Err(Error::DigestInvalidParam { name: "qop" })
        );
    }

    #[test]
    fn missing_and_unknown() {
        let no_uri = RFC_2617.replace("uri=\"/dir/index.html\", ", "");
        assert_eq!(
            Credentials::parse(&no_uri),
            Err(Error::DigestMissingParam { name: "uri" })
        );
        let md6 = format!("{RFC_2617}, algorithm=MD6");
        assert_eq!(
            Credentials::parse(&md6),
            Err(Error::DigestUnsupportedAlgorithm)
        );
        let extra = format!("{RFC_2617}, x-vendor=\"whatever\"");
        assert!(Credentials::parse(&extra).is_ok());
    }
}
