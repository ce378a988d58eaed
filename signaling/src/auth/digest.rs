//! The digest computation itself (RFC 7616 §3.4.1–3.4.3, RFC 2617 §3.2.2.1–3.2.2.3).
//!
//! ```text
//! A1       = username ":" realm ":" password
//! A1-sess  = H(username ":" realm ":" password) ":" nonce ":" cnonce
//! A2       = method ":" digest-uri                       (qop absent or "auth")
//! response = H(H(A1) ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2))   with qop
//! response = H(H(A1) ":" nonce ":" H(A2))                             without (RFC 2069)
//! ```
//!
//! H is lower-case hex of MD5 or SHA-256. For `-sess` the inner H(...) is hex as well, as RFC
//! 7616 §3.4.2 settled (RFC 2617's text was ambiguous).

use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Algorithm;
use crate::Error;

/// The `qop=auth` inputs of a response: the client nonce and the nonce count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QopAuth<'a> {
    pub(crate) cnonce: &'a str,
    pub(crate) nc: u32,
}

/// Everything a response is computed from. Holds the password, so no `Debug` derive.
pub(crate) struct Input<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) username: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) password: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) method: &'a str,
    pub(crate) uri: &'a str,
    pub(crate) qop: Option<QopAuth<'a>>,
}

impl std::fmt::Debug for Input<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("algorithm", &self.algorithm)
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("password", &"<redacted>")
            .field("nonce", &self.nonce)
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("qop", &self.qop)
            .finish()
    }
}

/// H(part ":" part ":" …) in lower-case hex.
fn h(algorithm: Algorithm, parts: &[&str]) -> String {
    fn run<D: Digest>(parts: &[&str]) -> String {
        let mut d = D::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(part.as_bytes());
        }
        hex(&d.finalize())
    }
    match algorithm {
        Algorithm::Md5 | Algorithm::Md5Sess => run::<Md5>(parts),
        Algorithm::Sha256 | Algorithm::Sha256Sess => run::<Sha256>(parts),
    }
}

/// Lower-case hex (RFC 2617 §3.1.3 LHEX).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The nonce count as written on the wire: exactly 8 lower-case hex digits (RFC 2617 §3.2.2).
pub(crate) fn nc_hex(nc: u32) -> String {
    format!("{nc:08x}")
}

/// The `response` value for these inputs.
///
/// A `-sess` algorithm without qop has no cnonce to put in A1; that is refused rather than
/// guessed (RFC 7616 makes qop mandatory anyway).
pub(crate) fn response(input: &Input<'_>) -> Result<String, Error> {
    let alg = input.algorithm;
    let mut ha1 = h(alg, &[input.username, input.realm, input.password]);
    if alg.is_session() {
        let Some(qop) = input.qop else {
            return Err(Error::DigestMissingParam { name: "qop" });
        };
        ha1 = h(alg, &[&ha1, input.nonce, qop.cnonce]);
    }
    let ha2 = h(alg, &[input.method, input.uri]);
    Ok(match input.qop {
        Some(qop) => h(
            alg,
            &[&ha1, input.nonce, &nc_hex(qop.nc), qop.cnonce, "auth", &ha2],
        ),
        None => h(alg, &[&ha1, input.nonce, &ha2]),
    })
}

/// Compares a received hex response with the expected one in constant time (for equal
/// lengths), ignoring the case of hex letters, so that timing reveals nothing about how many
/// leading characters were right.
pub(crate) fn response_matches(received: &str, expected: &str) -> bool {
    let received = received.to_ascii_lowercase();
    bool::from(received.as_bytes().ct_eq(expected.as_bytes()))
}

/// Constant-time string equality, used for the username too so that a wrong username and a
/// wrong password take the same path.
pub(crate) fn ct_str_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_nc_formatting() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(nc_hex(1), "00000001");
        assert_eq!(nc_hex(0xdead_beef), "deadbeef");
    }

    #[test]
    fn known_hashes() {
        assert_eq!(h(Algorithm::Md5, &[""]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            h(Algorithm::Sha256, &["a", "b"]),
            // SHA-256("a:b")
            hex(&Sha256::digest(b"a:b"))
        );
    }

    #[test]
    fn sess_without_qop_is_refused() {
        let input = Input {
            algorithm: Algorithm::Md5Sess,
            username: "u",
            realm: "r",
            password: "p",
            nonce: "n",
            method: "INVITE",
            uri: "sip:a@b",
            qop: None,
        };
        assert_eq!(
            response(&input),
            Err(Error::DigestMissingParam { name: "qop" })
        );
        assert!(!format!("{input:?}").contains("\"p\""));
    }

    #[test]
    fn comparison_ignores_hex_case_and_length_mismatch_fails() {
        assert!(response_matches("ABCDEF", "abcdef"));
        assert!(!response_matches("abcde", "abcdef"));
        assert!(!response_matches("", "abcdef"));
        assert!(ct_str_eq("Mufasa", "Mufasa"));
        assert!(!ct_str_eq("Mufasa", "mufasa"));
    }
}
