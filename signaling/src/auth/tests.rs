//! Known answers from the RFCs and the client ↔ server round trips.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use super::*;

const RFC_2617_CHALLENGE: &str = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

fn rfc_7616_challenge(algorithm: &str) -> Challenge {
    Challenge::parse(&format!(
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    ))
    .unwrap()
}

#[test]
fn rfc_2617_section_3_5_example() {
    let challenge = Challenge::parse(RFC_2617_CHALLENGE).unwrap();
    let value = respond(
        &challenge,
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle Of Life",
        "0a4f113b",
        1,
    )
    .unwrap();
    let creds = Credentials::parse(&value).unwrap();
    assert_eq!(creds.response, "6629fae49393a05397450978507c4ef1");
    assert_eq!(
        creds.opaque.as_deref(),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    assert!(value.contains("qop=auth, nc=00000001"), "{value}");
}

#[test]
fn rfc_7616_section_3_9_1_examples() {
    // Note the password: "Circle of Life", lower-case "of" (RFC 7616 erratum 4495).
    for (algorithm, want) in [
        (
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ] {
        let value = respond(
            &rfc_7616_challenge(algorithm),
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        )
        .unwrap();
        assert_eq!(
            Credentials::parse(&value).unwrap().response,
            want,
            "{algorithm}"
        );
        assert!(value.contains(&format!("algorithm={algorithm}")));
    }
}

const URI: &str = "sip:+15550100@bridge.example.com";
const USER: &str = "trunk-a";
const PASS: &str = "s3cret \"pass\"";

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn challenger() -> Challenger {
    Challenger::new([7; 32], "sipbridge").unwrap()
}

/// The challenge of `algorithm` among those `server` issues at `now`.
fn challenge_of(server: &mut Challenger, now: SystemTime, algorithm: Algorithm) -> Challenge {
    server
        .challenge(now, false)
        .iter()
        .map(|v| Challenge::parse(v).unwrap())
        .find(|c| c.algorithm == algorithm)
        .unwrap()
}

fn answer(c: &Challenge, nc: u32) -> String {
    respond(c, "INVITE", URI, USER, PASS, "0123456789abcdef", nc).unwrap()
}

fn verify(server: &mut Challenger, now: SystemTime, value: &str) -> Result<(), Error> {
    server.verify(now, "INVITE", URI, value, USER, PASS)
}

#[test]
fn challenges_offer_sha256_then_md5_with_one_nonce() {
    let mut server = challenger().with_opaque("op").unwrap();
    let values = server.challenge(t(0), false);
    let parsed: Vec<Challenge> = values
        .iter()
        .map(|v| Challenge::parse(v).unwrap())
        .collect();
    let algorithms: Vec<Algorithm> = parsed.iter().map(|c| c.algorithm).collect();
    assert_eq!(algorithms, [Algorithm::Sha256, Algorithm::Md5]);
    assert!(
        parsed
            .iter()
            .all(|c| c.qop == [Qop::Auth] && !c.stale && c.realm == "sipbridge")
    );
    assert!(parsed.iter().all(|c| c.opaque.as_deref() == Some("op")));
    assert_eq!(parsed[0].nonce, parsed[1].nonce);
    assert_ne!(
        parsed[0].nonce,
        challenge_of(&mut server, t(0), Algorithm::Md5).nonce
    );
    assert!(server.challenge(t(0), true)[0].contains("stale=true"));
    assert_eq!(
        pick_challenge(values.iter().map(String::as_str), None).unwrap(),
        parsed[0]
    );
}

#[test]
fn round_trip_every_algorithm_with_and_without_qop() {
    let algorithms = [
        Algorithm::Sha256,
        Algorithm::Md5,
        Algorithm::Sha256Sess,
        Algorithm::Md5Sess,
    ];
    for algorithm in algorithms {
        let mut server = challenger();
        let mut c = challenge_of(&mut server, t(0), Algorithm::Md5);
        c.algorithm = algorithm;
        assert_eq!(
            verify(&mut server, t(1), &answer(&c, 1)),
            Ok(()),
            "{algorithm}"
        );
        if !algorithm.is_session() {
            let mut c = challenge_of(&mut server, t(0), algorithm);
            c.qop.clear();
            let value = answer(&c, 1);
            assert!(!value.contains("qop"), "{value}");
            assert_eq!(
                verify(&mut server, t(1), &value),
                Ok(()),
                "{algorithm} no qop"
            );
            // RFC 2069 style has no counter: the nonce is good for one request only.
            assert_eq!(verify(&mut server, t(1), &value), Err(Error::DigestReplay));
        }
    }
}

#[test]
fn stale_nonce_rechallenges_then_succeeds() {
    let mut server = challenger();
    let c = challenge_of(&mut server, t(0), Algorithm::Sha256);
    let late = t(Challenger::DEFAULT_NONCE_LIFETIME.as_secs() + 1);
    let err = verify(&mut server, late, &answer(&c, 1)).unwrap_err();
    assert_eq!(err, Error::DigestStaleNonce);
    let rejection = err.auth_rejection().unwrap();
    assert_eq!(rejection, Rejection::Challenge { stale: true });
    assert_eq!(
        (rejection.status(), rejection.reason()),
        (407, "Proxy Authentication Required")
    );
    let retry = pick_challenge(
        server.challenge(late, true).iter().map(String::as_str),
        None,
    );
    let retry = retry.unwrap();
    assert!(retry.stale);
    assert_eq!(verify(&mut server, late, &answer(&retry, 1)), Ok(()));
}

#[test]
fn nonce_count_must_strictly_increase() {
    let mut server = challenger();
    let c = challenge_of(&mut server, t(0), Algorithm::Sha256);
    assert_eq!(verify(&mut server, t(1), &answer(&c, 1)), Ok(()));
    let replay = verify(&mut server, t(1), &answer(&c, 1)).unwrap_err();
    assert_eq!(replay, Error::DigestReplay);
    let rejection = replay.auth_rejection().unwrap();
    assert_eq!(
        (rejection.status(), rejection.reason()),
        (403, "Forbidden - credentials replayed")
    );
    assert_eq!(verify(&mut server, t(2), &answer(&c, 2)), Ok(()));
    assert_eq!(verify(&mut server, t(3), &answer(&c, 5)), Ok(()));
    assert_eq!(
        verify(&mut server, t(3), &answer(&c, 3)),
        Err(Error::DigestReplay)
    );
    assert_eq!(
        verify(&mut server, t(3), &answer(&c, 5)),
        Err(Error::DigestReplay)
    );
}

#[test]
fn wrong_password_or_username_look_the_same_to_the_peer() {
    let mut server = challenger();
    let c = challenge_of(&mut server, t(0), Algorithm::Sha256);
    let wrong_pass = respond(&c, "INVITE", URI, USER, "guess", "cn", 1).unwrap();
    let wrong_user = respond(&c, "INVITE", URI, "admin", PASS, "cn", 1).unwrap();
    let e1 = verify(&mut server, t(1), &wrong_pass).unwrap_err();
    let e2 = verify(&mut server, t(1), &wrong_user).unwrap_err();
    assert_eq!(
        (e1.clone(), e2.clone()),
        (Error::DigestWrongResponse, Error::DigestUnknownUser)
    );
    assert_eq!(e1.auth_rejection(), e2.auth_rejection());
    let rejection = e1.auth_rejection().unwrap();
    assert_eq!(
        (rejection.status(), rejection.reason()),
        (403, "Forbidden - wrong credentials")
    );
    // Another realm, and the method is part of the digest too.
    let mut other = c.clone();
    other.realm = "elsewhere".into();
    assert_eq!(
        verify(&mut server, t(1), &answer(&other, 1)),
        Err(Error::DigestRealmMismatch)
    );
    let bye = respond(&c, "BYE", URI, USER, PASS, "cn", 1).unwrap();
    assert_eq!(
        verify(&mut server, t(1), &bye),
        Err(Error::DigestWrongResponse)
    );
}

#[test]
fn tampered_and_foreign_nonces() {
    let mut server = challenger();
    let c = challenge_of(&mut server, t(0), Algorithm::Sha256);
    // One bit flipped in the issue time ('0' ^ 1 = '1').
    let mut tampered = c.clone();
    let mut bytes = tampered.nonce.into_bytes();
    bytes[15] ^= 1;
    tampered.nonce = String::from_utf8(bytes).unwrap();
    assert_ne!(tampered.nonce, c.nonce);
    // Recomputed by someone holding the password: we only re-challenge (restart case).
    let err = verify(&mut server, t(1), &answer(&tampered, 1)).unwrap_err();
    assert_eq!(err, Error::DigestForeignNonce);
    assert_eq!(
        err.auth_rejection(),
        Some(Rejection::Challenge { stale: true })
    );
    // Nonce swapped into captured credentials: the digest no longer matches, 403.
    let swapped = answer(&c, 1).replace(&c.nonce, &tampered.nonce);
    assert_eq!(
        verify(&mut server, t(1), &swapped),
        Err(Error::DigestWrongResponse)
    );
    // Minted with another secret, for another realm, or not ours at all.
    let mut stranger = Challenger::new([8; 32], "sipbridge").unwrap();
    let mut other_realm = Challenger::new([7; 32], "other").unwrap();
    for nonce in [
        challenge_of(&mut stranger, t(0), Algorithm::Md5).nonce,
        challenge_of(&mut other_realm, t(0), Algorithm::Md5).nonce,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
        String::new(),
    ] {
        let foreign = Challenge { nonce, ..c.clone() };
        let got = verify(&mut server, t(1), &answer(&foreign, 1));
        assert_eq!(got, Err(Error::DigestForeignNonce));
    }
    assert_eq!(verify(&mut server, t(1), &answer(&c, 1)), Ok(()));
}

#[test]
fn uri_opaque_and_qop_mismatches_are_bad_requests() {
    let mut server = challenger().with_opaque("op").unwrap();
    let c = challenge_of(&mut server, t(0), Algorithm::Md5);
    let elsewhere = respond(&c, "INVITE", "sip:other@bridge", USER, PASS, "cn", 1).unwrap();
    let err = verify(&mut server, t(1), &elsewhere).unwrap_err();
    assert_eq!(err, Error::DigestUriMismatch);
    // SIPp leaves the user out of the digest uri; host and port still have to match.
    let c2 = challenge_of(&mut server, t(0), Algorithm::Md5);
    let wrong_host = respond(
        &c2,
        "INVITE",
        "sip:elsewhere.example.com",
        USER,
        PASS,
        "cn",
        1,
    );
    let err = verify(&mut server, t(1), &wrong_host.unwrap()).unwrap_err();
    assert_eq!(err, Error::DigestUriMismatch);
    let host_only = respond(&c2, "INVITE", "sip:bridge.example.com", USER, PASS, "cn", 2);
    assert_eq!(verify(&mut server, t(1), &host_only.unwrap()), Ok(()));
    assert_eq!(err.auth_rejection().unwrap().status(), 400);
    let no_opaque = answer(
        &Challenge {
            opaque: None,
            ..c.clone()
        },
        1,
    );
    assert_eq!(
        verify(&mut server, t(1), &no_opaque),
        Err(Error::DigestOpaqueMismatch)
    );
    let auth_int = answer(&c, 1).replace("qop=auth", "qop=auth-int");
    let err = verify(&mut server, t(1), &auth_int).unwrap_err();
    assert_eq!(err, Error::DigestUnsupportedQop);
    assert_eq!(err.auth_rejection().unwrap().status(), 400);
}

#[test]
fn malformed_credentials_are_400_and_never_panic() {
    let mut server = challenger();
    let c = challenge_of(&mut server, t(0), Algorithm::Sha256);
    let good = answer(&c, 1);
    let huge = format!("Digest username=\"{}\"", "x".repeat(100 * 1024));
    let cases = [
        "garbage".to_owned(),
        "Digest username=\"trunk-a".to_owned(),
        String::new(),
        huge,
        format!("{good}, username=\"again\""),
        good.replace("nc=00000001", "nc=0000000z"),
        good.replace("nc=00000001", "nc=1"),
        "Digest \u{0}\u{7f}\u{1b}[31m".to_owned(),
    ];
    for value in &cases {
        let err = verify(&mut server, t(1), value).unwrap_err();
        let rejection = err.auth_rejection().unwrap();
        assert_eq!(rejection.status(), 400, "{err} for {:.60?}", value);
    }
    // Every prefix and every single-byte corruption of a valid value: an error or, for the
    // value itself, success; never a panic.
    for end in 0..good.len() {
        if let Some(prefix) = good.get(..end) {
            let _ = server.verify(t(1), "INVITE", URI, prefix, USER, PASS);
        }
    }
    for i in 0..good.len() {
        for b in [b'"', b'\\', b',', b'=', b' ', b'\n', 0xc3] {
            let mut bytes = good.clone().into_bytes();
            bytes[i] = b;
            let mangled = String::from_utf8_lossy(&bytes);
            let _ = server.verify(t(1), "INVITE", URI, &mangled, USER, PASS);
            let _ = Challenge::parse(&mangled);
        }
    }
}

#[test]
fn replay_memory_is_bounded_and_forgetting_means_stale() {
    let mut server = challenger().with_replay_capacity(4);
    let nonces: Vec<Challenge> = (0..10)
        .map(|_| challenge_of(&mut server, t(0), Algorithm::Sha256))
        .collect();
    for c in &nonces {
        assert_eq!(verify(&mut server, t(1), &answer(c, 1)), Ok(()));
        assert!(server.replay_entries() <= 4);
    }
    // The oldest entries were dropped: a replay of them is not accepted, only re-challenged.
    assert_eq!(
        verify(&mut server, t(2), &answer(&nonces[0], 1)),
        Err(Error::DigestStaleNonce)
    );
    assert_eq!(
        verify(&mut server, t(2), &answer(&nonces[9], 1)),
        Err(Error::DigestReplay)
    );
    assert_eq!(verify(&mut server, t(2), &answer(&nonces[9], 2)), Ok(()));
    // Entries also go when their nonce expires.
    let later = t(Challenger::DEFAULT_NONCE_LIFETIME.as_secs() + 10);
    let fresh = challenge_of(&mut server, later, Algorithm::Md5);
    assert_eq!(verify(&mut server, later, &answer(&fresh, 1)), Ok(()));
    assert_eq!(server.replay_entries(), 1);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let server = Challenger::new([0xab; 32], "sipbridge").unwrap();
    let debug = format!("{server:?}");
    assert!(
        !debug.contains("171") && !debug.contains("ab, ab"),
        "{debug}"
    );
    assert!(debug.contains("<redacted>"));
    assert_eq!(
        Challenger::new([0; 32], "bad\r\nrealm").unwrap_err(),
        Error::DigestInvalidParam { name: "realm" }
    );
}

#[test]
fn c1_controls_inside_quotes_are_refused_like_ascii_controls() {
    // Found by the `digest` fuzz target: U+0099 parsed, then printed as a space.
    let value = "Digest username=\"bob\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"00\", cnonce=\"0a\u{99}1\"";
    assert!(Credentials::parse(value).is_err());
}
