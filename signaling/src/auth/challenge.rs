//! `WWW-Authenticate` / `Proxy-Authenticate` values (RFC 2617 §3.2.1, RFC 3261 §25.1
//! `digest-cln`, RFC 8760 §2.4).

use std::fmt;

use super::params::{self, Param};
use super::{Algorithm, Qop};
use crate::Error;

/// One Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space; the client picks its credentials by it.
    pub realm: String,
    /// Server nonce, echoed back unchanged.
    pub nonce: String,
    /// Opaque server data, echoed back unchanged when present.
    pub opaque: Option<String>,
    /// The previous request failed only because its nonce was stale (RFC 2617 §3.2.1): retry
    /// with the new nonce without asking the user again.
    pub stale: bool,
    /// `MD5` when the parameter is absent (RFC 2617 §3.2.1).
    pub algorithm: Algorithm,
    /// Offered qop options we recognise, in the server's order; unknown options are dropped as
    /// RFC 2617 §3.2.1 requires ("MUST ignore unrecognized options"). Empty means RFC 2069 mode.
    pub qop: Vec<Qop>,
    /// URIs of the protection space (`domain`, space-separated); informational in SIP.
    pub domain: Vec<String>,
}

impl Challenge {
    /// Parses one header value.
    ///
    /// An algorithm we do not implement is [`Error::DigestUnsupportedAlgorithm`], so callers
    /// facing several challenges can skip it (see [`super::pick_challenge`]). Other unknown
    /// parameters (`charset`, `userhash`, extensions) are ignored.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut stale = false;
        let mut algorithm = Algorithm::Md5;
        let mut qop = Vec::new();
        let mut domain = Vec::new();
        for Param { name, value } in params::parse(value)? {
            match name.as_str() {
                "realm" => realm = Some(value),
                "nonce" => nonce = Some(value),
                "opaque" => opaque = Some(value),
                "stale" => {
                    stale = if value.eq_ignore_ascii_case("true") {
                        true
                    } else if value.eq_ignore_ascii_case("false") {
                        false
                    } else {
                        return Err(Error::DigestInvalidParam { name: "stale" });
                    }
                }
                "algorithm" => algorithm = Algorithm::parse(&value)?,
                "qop" => {
                    qop = value
                        .split(',')
                        .filter_map(|t| Qop::parse(t.trim_matches([' ', '\t'])))
                        .collect();
                }
                "domain" => domain = value.split_ascii_whitespace().map(str::to_owned).collect(),
                _ => {}
            }
        }
        Ok(Self {
            realm: realm.ok_or(Error::DigestMissingParam { name: "realm" })?,
            nonce: nonce.ok_or(Error::DigestMissingParam { name: "nonce" })?,
            opaque,
            stale,
            algorithm,
            qop,
            domain,
        })
    }

    /// The qop we would answer with: `auth` if offered, none if nothing was offered (RFC 2069
    /// compatibility), and an error if only options we cannot do (`auth-int`) were offered.
    pub fn chosen_qop(&self) -> Result<Option<Qop>, Error> {
        if self.qop.is_empty() {
            Ok(None)
        } else if self.qop.contains(&Qop::Auth) {
            Ok(Some(Qop::Auth))
        } else {
            Err(Error::DigestUnsupportedQop)
        }
    }
}

/// Prints the value, realm/nonce/opaque/domain/qop quoted (RFC 2617 §3.2.1 requires the quotes)
/// and algorithm/stale as tokens.
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::from("Digest realm=");
        params::push_quoted(&mut out, &self.realm);
        if !self.domain.is_empty() {
            out.push_str(", domain=");
            params::push_quoted(&mut out, &self.domain.join(" "));
        }
        out.push_str(", nonce=");
        params::push_quoted(&mut out, &self.nonce);
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            params::push_quoted(&mut out, opaque);
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.as_str());
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            out.push_str(", qop=");
            params::push_quoted(&mut out, &list.join(","));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_2617_example() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert!(!c.stale);
        assert_eq!(c.chosen_qop(), Ok(Some(Qop::Auth)));
    }

    #[test]
    fn tokens_are_case_insensitive_and_unknowns_ignored() {
        let c = Challenge::parse(
            "DIGEST Realm=r, NONCE=\"n\", Algorithm=sha-256-SESS, Stale=TRUE, \
             qop=\"auth-conf, AUTH\", userhash=true, charset=UTF-8, domain=\"sip:a sip:b\"",
        )
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256Sess);
        assert!(c.stale);
        assert_eq!(c.qop, vec![Qop::Auth]);
        assert_eq!(c.domain, vec!["sip:a", "sip:b"]);
    }

    #[test]
    fn rejections() {
        let cases: &[(&str, Error)] = &[
            (
                "Digest nonce=\"n\"",
                Error::DigestMissingParam { name: "realm" },
            ),
            (
                "Digest realm=\"r\"",
                Error::DigestMissingParam { name: "nonce" },
            ),
            (
                "Digest realm=r, nonce=n, algorithm=SHA-512-256",
                Error::DigestUnsupportedAlgorithm,
            ),
            (
                "Digest realm=r, nonce=n, stale=maybe",
                Error::DigestInvalidParam { name: "stale" },
            ),
            (
                "Digest realm=r, nonce=n, nonce=m",
                Error::DigestDuplicateParam { offset: 25 },
            ),
        ];
        for (value, want) in cases {
            assert_eq!(Challenge::parse(value).as_ref(), Err(want), "{value:?}");
        }
        let auth_int = Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int\"").unwrap();
        assert_eq!(auth_int.chosen_qop(), Err(Error::DigestUnsupportedQop));
    }

    #[test]
    fn prints_and_parses_back() {
        let c = Challenge {
            realm: "sip \"bridge\"".into(),
            nonce: "abc".into(),
            opaque: Some("o".into()),
            stale: true,
            algorithm: Algorithm::Sha256,
            qop: vec![Qop::Auth],
            domain: vec!["sip:example.com".into()],
        };
        let text = c.to_string();
        assert_eq!(
            text,
            "Digest realm=\"sip \\\"bridge\\\"\", domain=\"sip:example.com\", nonce=\"abc\", \
             opaque=\"o\", stale=true, algorithm=SHA-256, qop=\"auth\""
        );
        assert_eq!(Challenge::parse(&text).unwrap(), c);
    }
}
