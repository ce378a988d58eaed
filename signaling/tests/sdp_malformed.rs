//! Offers we refuse, and bodies that must give an error value rather than a panic.
#![allow(clippy::unwrap_used)]

mod sdp_common;

use sdp_common::*;
use sipbridge_signaling::Error;
use sipbridge_signaling::sdp::{Codec, MAX_BODY, parse};

#[test]
fn srtp_only_offer_is_488() {
    let offer = std::str::from_utf8(TWILIO)
        .unwrap()
        .replace("RTP/AVP", "RTP/SAVP")
        .replace(
            "a=sendrecv",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv",
        );
    let offer = sdp(offer.as_bytes());
    assert!(offer.media[0].crypto);
    let error = default_session().answer(&offer).unwrap_err();
    assert_eq!(error, Error::SdpSrtpNotSupported);
    let rejection = error.sdp_rejection().unwrap();
    assert_eq!(rejection.status, 488);
    assert_eq!(rejection.reason, "Not Acceptable Here - SRTP not supported");
    // WebRTC's DTLS-SRTP profile is SRTP too.
    let dtls = edited(TWILIO, "RTP/AVP", "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        default_session().answer(&dtls),
        Err(Error::SdpSrtpNotSupported)
    );
}

#[test]
fn plain_rtp_beside_srtp_is_taken() {
    // Best-effort SRTP offers both; the plain one carries the call.
    let offer = std::str::from_utf8(TWILIO).unwrap().replace(
        "m=audio",
        "m=audio 13470 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\nm=audio",
    );
    let (answer, media) = default_session().answer(&sdp(offer.as_bytes())).unwrap();
    assert!(
        answer.contains("m=audio 0 RTP/SAVP 0\r\nm=audio 30000 RTP/AVP 0 101\r\n"),
        "{answer}"
    );
    assert_eq!(media.remote.port(), 13468);
}

#[test]
fn no_common_codec_is_488_naming_it() {
    let offer = edited(TWILIO, "RTP/AVP 0 8 101", "RTP/AVP 18 101");
    let error = default_session().answer(&offer).unwrap_err();
    assert_eq!(error, Error::SdpNoCommonCodec);
    assert_eq!(error.to_string(), "No common codec");
    let rejection = error.sdp_rejection().unwrap();
    assert_eq!(
        (rejection.status, rejection.reason, rejection.warning),
        (488, "Not Acceptable Here - No common codec", Some(305))
    );
    // Offered opus, but we only take G.711.
    let only_g711 = session(&[Codec::Pcmu], true);
    let offer = edited(
        FREESWITCH,
        "RTP/AVP 102 9 0 8 101 100 13",
        "RTP/AVP 102 9 101",
    );
    assert_eq!(
        only_g711.clone().answer(&offer),
        Err(Error::SdpNoCommonCodec)
    );
}

#[test]
fn offers_without_usable_audio() {
    let cases = [
        (
            edited(TWILIO, "m=audio 13468", "m=audio 0"),
            Error::SdpNoAudio,
        ),
        (edited(TWILIO, "m=audio", "m=video"), Error::SdpNoAudio),
        (edited(TWILIO, "RTP/AVP", "udp"), Error::SdpNoAudio),
        (
            edited(TWILIO, "c=IN IP4 54.172.60.3\r\n", ""),
            Error::SdpNoConnection,
        ),
        (
            edited(TWILIO, "c=IN IP4 54.172.60.3", "c=IN IP4 sbc.example.com"),
            Error::SdpHostAddress {
                host: "sbc.example.com".into(),
            },
        ),
    ];
    for (offer, error) in cases {
        assert_eq!(default_session().answer(&offer), Err(error.clone()));
        assert!(error.sdp_rejection().is_some());
    }
}

#[test]
fn malformed_bodies_are_errors() {
    let base = std::str::from_utf8(TWILIO).unwrap();
    let bodies: Vec<Vec<u8>> = vec![
        // No m= line.
        base.split("m=audio").next().unwrap().into(),
        base.replace("m=audio 13468", "m=audio 70000").into(),
        base.replace("m=audio 13468", "m=audio x").into(),
        base.replace("c=IN IP4 54.172.60.3", "c=IN IP4").into(),
        base.replace("c=IN IP4 54.172.60.3", "c=IN IP4 54.172.60")
            .into(),
        base.replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA")
            .into(),
        base.replace("a=ptime:20", "a=ptime:").into(),
        // Truncated in the middle of the m= line.
        base[..base.find("m=audio").unwrap() + 9].into(),
        // Non-UTF-8 inside a line we read.
        base.replace("c=IN IP4 54", "c=IN IP4 \u{0}54").into(),
        TWILIO
            .iter()
            .map(|b| if *b == b'5' { 0xb5 } else { *b })
            .collect(),
        [
            b"v=0\r\no=- 1 1 IN IP4 \xc3\x28\r\n".as_slice(),
            &TWILIO[5..],
        ]
        .concat(),
        b"\xff\xfe\x00\x01".to_vec(),
        Vec::new(),
    ];
    for body in bodies {
        let result = parse(&body);
        assert!(result.is_err(), "{:?}", String::from_utf8_lossy(&body));
        assert_eq!(result.unwrap_err().sdp_rejection().unwrap().status, 400);
    }
}

#[test]
fn a_megabyte_of_garbage_is_refused_unread() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let garbage: Vec<u8> = (0..1 << 20).map(|_| next(&mut state) as u8).collect();
    let error = parse(&garbage).unwrap_err();
    assert_eq!(
        error,
        Error::SdpTooLarge {
            len: 1 << 20,
            max: MAX_BODY
        }
    );
    assert_eq!(error.sdp_rejection().unwrap().status, 413);
    // Garbage under the limit is parsed, and refused, line by line.
    assert!(parse(&garbage[..MAX_BODY]).is_err());
}

#[test]
fn every_prefix_of_every_fixture_parses_or_fails_cleanly() {
    for fixture in FIXTURES {
        for end in 0..=fixture.len() {
            if let Ok(offer) = parse(&fixture[..end]) {
                let _ = default_session().answer(&offer);
            }
        }
    }
}

/// Random edits of the fixtures (a fixed seed: the same run every time). Whatever parses
/// is also answered, and answered offers are read back.
#[test]
fn mutated_fixtures_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut body = FIXTURES[round % FIXTURES.len()].to_vec();
        for _ in 0..1 + next(&mut state) % 4 {
            let at = (next(&mut state) as usize) % body.len().max(1);
            match next(&mut state) % 5 {
                0 => body.truncate(at),
                1 if at < body.len() => body[at] = next(&mut state) as u8,
                2 => body.insert(
                    at.min(body.len()),
                    b" \r\n:=/0.9"[(next(&mut state) % 9) as usize],
                ),
                3 if at < body.len() => {
                    body.remove(at);
                }
                _ => {
                    let copy = body[at..].to_vec();
                    body.extend_from_slice(&copy[..copy.len().min(64)]);
                }
            }
        }
        if let Ok(offer) = parse(&body) {
            parsed += 1;
            let mut local = default_session();
            if let Ok((answer, _)) = local.answer(&offer) {
                assert!(parse(answer.as_bytes()).is_ok(), "{answer}");
            }
        }
    }
    println!("mutated fixtures: {parsed} of 20000 parsed");
}

fn next(state: &mut u64) -> u64 {
    // xorshift64: deterministic, no dependency.
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
