//! Client side: answering a carrier's 401/407 on our outbound requests (RFC 3261 §22.2–22.3).

use super::digest::{self, Input, QopAuth};
use super::params::check_quotable;
use super::{Algorithm, Challenge, Credentials, Qop};
use crate::Error;
use crate::message::is_token;

/// Picks the challenge to answer among a response's `WWW-Authenticate` or
/// `Proxy-Authenticate` values.
///
/// RFC 8760 §2.4 has the server list them in its order of preference and the client take the
/// topmost it supports "unless a local policy dictates otherwise". Our policy: the SHA-256
/// family over MD5, then the server's order. Skipped: values that do not parse (other schemes,
/// unknown algorithms), a realm other than `realm` when given, and challenges we could not
/// answer (only `auth-int` offered, or `-sess` without qop).
pub fn pick_challenge<'a>(
    values: impl IntoIterator<Item = &'a str>,
    realm: Option<&str>,
) -> Result<Challenge, Error> {
    let strength = |a: Algorithm| match a {
        Algorithm::Sha256 | Algorithm::Sha256Sess => 1,
        Algorithm::Md5 | Algorithm::Md5Sess => 0,
    };
    let mut best: Option<Challenge> = None;
    for value in values {
        let Ok(challenge) = Challenge::parse(value) else {
            continue;
        };
        if realm.is_some_and(|r| r != challenge.realm) {
            continue;
        }
        match challenge.chosen_qop() {
            Ok(None) if challenge.algorithm.is_session() => continue,
            Err(_) => continue,
            Ok(_) => {}
        }
        if best
            .as_ref()
            .is_none_or(|b| strength(challenge.algorithm) > strength(b.algorithm))
        {
            best = Some(challenge);
        }
    }
    best.ok_or(Error::DigestNoUsableChallenge)
}

/// Hex of caller-supplied random bytes, for use as a `cnonce` (8 or more bytes are plenty).
pub fn cnonce_from_bytes(random: &[u8]) -> String {
    digest::hex(random)
}

/// Builds the `Authorization` / `Proxy-Authorization` value answering `challenge`.
///
/// With `qop="auth"` offered we answer with qop=auth, `cnonce` and `nc` (the count of requests
/// this client has sent with this nonce, starting at 1, RFC 2617 §3.2.2). Without any qop the
/// answer is RFC 2069 style and `cnonce`/`nc` are unused. Only `auth-int` offered is
/// [`Error::DigestUnsupportedQop`]: we do not hash bodies.
pub fn respond(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, Error> {
    if !is_token(method) {
        return Err(Error::DigestInvalidParam { name: "method" });
    }
    check_quotable("username", username)?;
    check_quotable("uri", uri)?;
    check_quotable("realm", &challenge.realm)?;
    check_quotable("nonce", &challenge.nonce)?;
    if let Some(opaque) = &challenge.opaque {
        check_quotable("opaque", opaque)?;
    }
    let qop = match challenge.chosen_qop()? {
        None | Some(Qop::AuthInt) => None,
        Some(Qop::Auth) => {
            if cnonce.is_empty() {
                return Err(Error::DigestInvalidParam { name: "cnonce" });
            }
            check_quotable("cnonce", cnonce)?;
            if nc == 0 {
                return Err(Error::DigestInvalidParam { name: "nc" });
            }
            Some(QopAuth { cnonce, nc })
        }
    };
    let response = digest::response(&Input {
        algorithm: challenge.algorithm,
        username,
        realm: &challenge.realm,
        password,
        nonce: &challenge.nonce,
        method,
        uri,
        qop,
    })?;
    Ok(Credentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response,
        algorithm: challenge.algorithm,
        cnonce: qop.map(|q| q.cnonce.to_owned()),
        opaque: challenge.opaque.clone(),
        qop: qop.map(|_| Qop::Auth),
        nc: qop.map(|q| q.nc),
    }
    .to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn picks_sha256_over_md5_whatever_the_order() {
        let values = [
            "Digest realm=\"r\", nonce=\"1\", algorithm=MD5, qop=\"auth\"",
            "Basic realm=\"r\"",
            "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"3\", algorithm=SHA-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"4\", algorithm=SHA-256-sess, qop=\"auth\"",
        ];
        assert_eq!(pick_challenge(values, None).unwrap().nonce, "3");
        assert_eq!(
            pick_challenge(values[..2].iter().copied(), None)
                .unwrap()
                .nonce,
            "1"
        );
    }

    #[test]
    fn skips_other_realms_and_unanswerable() {
        let values = [
            "Digest realm=\"other\", nonce=\"1\", algorithm=SHA-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256, qop=\"auth-int\"",
            "Digest realm=\"r\", nonce=\"3\", algorithm=SHA-256-sess",
            "Digest realm=\"r\", nonce=\"4\", algorithm=MD5",
        ];
        assert_eq!(pick_challenge(values, Some("r")).unwrap().nonce, "4");
        assert_eq!(pick_challenge(values, None).unwrap().nonce, "1");
        assert_eq!(
            pick_challenge(values[1..3].iter().copied(), None),
            Err(Error::DigestNoUsableChallenge)
        );
        assert_eq!(
            pick_challenge([], None),
            Err(Error::DigestNoUsableChallenge)
        );
    }

    #[test]
    fn refusals() {
        let auth_int = Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int\"").unwrap();
        assert_eq!(
            respond(&auth_int, "INVITE", "sip:a@b", "u", "p", "c", 1),
            Err(Error::DigestUnsupportedQop)
        );
        let sess = Challenge::parse("Digest realm=r, nonce=n, algorithm=MD5-sess").unwrap();
        assert_eq!(
            respond(&sess, "INVITE", "sip:a@b", "u", "p", "c", 1),
            Err(Error::DigestMissingParam { name: "qop" })
        );
        let auth = Challenge::parse("Digest realm=r, nonce=n, qop=auth").unwrap();
        let bad: &[(&str, &str, &str, u32, Error)] = &[
            (
                "IN VITE",
                "u",
                "c",
                1,
                Error::DigestInvalidParam { name: "method" },
            ),
            (
                "INVITE",
                "u\r\nX: y",
                "c",
                1,
                Error::DigestInvalidParam { name: "username" },
            ),
            (
                "INVITE",
                "u",
                "",
                1,
                Error::DigestInvalidParam { name: "cnonce" },
            ),
            (
                "INVITE",
                "u",
                "c",
                0,
                Error::DigestInvalidParam { name: "nc" },
            ),
        ];
        for (method, user, cnonce, nc, want) in bad {
            assert_eq!(
                respond(&auth, method, "sip:a@b", user, "p", cnonce, *nc).as_ref(),
                Err(want)
            );
        }
    }

    #[test]
    fn rfc_2069_answer_has_no_cnonce_or_nc() {
        let c = Challenge::parse("Digest realm=r, nonce=n, opaque=o").unwrap();
        let value = respond(&c, "BYE", "sip:a@b", "u", "p", "ignored", 7).unwrap();
        let creds = Credentials::parse(&value).unwrap();
        assert_eq!((creds.qop, creds.cnonce, creds.nc), (None, None, None));
        assert_eq!(creds.opaque.as_deref(), Some("o"));
        assert_eq!(cnonce_from_bytes(&[0xde, 0xad]), "dead");
    }
}
