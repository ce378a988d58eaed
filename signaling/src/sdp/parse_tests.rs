#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use super::*;

const MINIMAL: &str = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn ip(a: u8, b: u8, c: u8, d: u8) -> ConnectionAddress {
    ConnectionAddress::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn malformed_line(body: &str) -> usize {
    match parse(body.as_bytes()) {
        Err(Error::SdpMalformed { line, .. }) => line,
        other => panic!("expected a malformed line, got {other:?}"),
    }
}

#[test]
fn freeswitch_offer_is_read_whole() {
    let sdp = parse(include_bytes!("../../testdata/sdp/freeswitch.sdp")).unwrap();
    assert_eq!(sdp.origin.username, "FreeSWITCH");
    assert_eq!(sdp.origin.session_id, 1_712_627_480);
    assert_eq!(sdp.origin.session_version, 1_712_627_481);
    assert_eq!(sdp.connection, Some(ip(203, 0, 113, 20)));
    assert_eq!(sdp.direction, None);
    let [audio] = sdp.media.as_slice() else {
        panic!("one media section")
    };
    assert_eq!((audio.media.as_str(), audio.port), ("audio", 24580));
    assert_eq!(audio.proto, "RTP/AVP");
    assert_eq!(audio.formats, ["102", "9", "0", "8", "101", "100", "13"]);
    assert_eq!(
        audio.rtpmap(PayloadType(102)),
        Some(&RtpMap {
            payload_type: PayloadType(102),
            encoding: "opus".into(),
            clock_rate: 48_000,
            channels: Some(2),
        })
    );
    assert_eq!(audio.rtpmaps.len(), 7);
    assert_eq!(audio.fmtps.len(), 3);
    assert!(
        audio.fmtps[0]
            .parameters
            .starts_with("useinbandfec=1; maxaveragebitrate")
    );
    assert_eq!(audio.ptime, Some(20));
    assert_eq!(audio.direction, Some(MediaDirection::SendRecv));
    assert_eq!(
        audio.rtcp.as_ref().and_then(RtcpAddress::socket_addr),
        Some("203.0.113.20:24581".parse().unwrap())
    );
    assert!(!audio.crypto);
}

#[test]
fn media_level_values_stay_with_their_section() {
    let sdp = parse(include_bytes!("../../testdata/sdp/linphone_video.sdp")).unwrap();
    let [audio, video] = sdp.media.as_slice() else {
        panic!("two media sections")
    };
    assert_eq!(audio.connection, None);
    assert_eq!(video.connection, Some(ip(192, 0, 2, 45)));
    assert_eq!(video.media, "video");
    assert_eq!(video.rtpmaps.len(), 2);
    assert_eq!(audio.rtpmaps.len(), 6, "fmtp:18 has no rtpmap");
}

#[test]
fn lf_line_ends_blank_lines_and_non_utf8_text_are_fine() {
    let lf = MINIMAL.replace("\r\n", "\n");
    assert_eq!(
        parse(lf.as_bytes()).unwrap(),
        parse(MINIMAL.as_bytes()).unwrap()
    );
    let padded = format!("{MINIMAL}\r\n\r\n");
    assert!(parse(padded.as_bytes()).is_ok());
    let latin1 = MINIMAL.replace("s=-", "s=Caf\u{fffd}").into_bytes();
    let latin1: Vec<u8> = latin1
        .windows(3)
        .position(|w| w == "\u{fffd}".as_bytes())
        .map(|at| [&latin1[..at], &[0xe9], &latin1[at + 3..]].concat())
        .unwrap();
    assert!(std::str::from_utf8(&latin1).is_err());
    assert!(parse(&latin1).is_ok());
}

#[test]
fn attributes_directions_and_rtcp_forms() {
    let body = "v=0\no=- 1 2 IN IP4 192.0.2.1\na=recvonly\nc=IN IP4 192.0.2.1/127\nm=audio 4000/2 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\na=rtcp:4001\na=ptime:30.0\na=MAXPTIME:40\nm=audio 0 RTP/AVP 0\na=inactive\n";
    let sdp = parse(body.as_bytes()).unwrap();
    assert_eq!(sdp.direction, Some(MediaDirection::RecvOnly));
    assert_eq!(sdp.connection, Some(ip(192, 0, 2, 1)));
    let first = &sdp.media[0];
    assert!(first.crypto && first.is_srtp() && !first.is_plain_rtp());
    assert_eq!(
        first.rtcp,
        Some(RtcpAddress {
            port: 4001,
            address: None
        })
    );
    assert_eq!((first.ptime, first.maxptime), (Some(30), Some(40)));
    assert_eq!(first.direction, None);
    assert_eq!(sdp.media[1].direction, Some(MediaDirection::Inactive));
}

#[test]
fn host_names_and_ipv6_are_kept() {
    let v6 = MINIMAL.replace("c=IN IP4 192.0.2.1", "c=IN IP6 2001:db8::1");
    let sdp = parse(v6.as_bytes()).unwrap();
    assert_eq!(
        sdp.connection,
        Some(ConnectionAddress::Ip("2001:db8::1".parse().unwrap()))
    );
    let host = MINIMAL.replace("c=IN IP4 192.0.2.1", "c=IN IP4 media.example.com");
    let sdp = parse(host.as_bytes()).unwrap();
    assert_eq!(
        sdp.connection,
        Some(ConnectionAddress::Host("media.example.com".into()))
    );
}

#[test]
fn malformed_lines_are_named() {
    let cases = [
        ("v=1\r\n", 1),
        ("x=0\r\nv=0\r\n", 1),
        ("garbage\r\n", 1),
        ("v=0\r\no=- 1 IN IP4 192.0.2.1\r\n", 2),
        ("v=0\r\no=- 1 x IN IP4 192.0.2.1\r\n", 2),
        ("v=0\r\no=- 18446744073709551616 1 IN IP4 192.0.2.1\r\n", 2),
        ("v=0\r\no=- 1 +2 IN IP4 192.0.2.1\r\n", 2),
        ("v=0\r\nc=IN\r\n", 2),
        ("v=0\r\nc=IN IP4 999.1.1.1\r\n", 2),
        ("v=0\r\nc=ATM NSAP 47.0091\r\n", 2),
        ("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", 2),
        ("v=0\r\nm=audio -1 RTP/AVP 0\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP\r\n", 2),
        ("v=0\r\nm=aud", 2),
        ("v=0\r\nm=audio 4000/x RTP/AVP 0\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0\r\n", 3),
        (
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:200 PCMU/8000\r\n",
            3,
        ),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/0\r\n", 3),
        (
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/1/2\r\n",
            3,
        ),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:twenty\r\n", 3),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:20.x\r\n", 3),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:abc\r\n", 3),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4\r\n", 3),
        (
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\no=- 1 2 IN IP4 192.0.2.1\r\n",
            3,
        ),
    ];
    for (body, line) in cases {
        assert_eq!(malformed_line(body), line, "{body:?}");
    }
    assert!(matches!(
        parse(b"v=0\r\nc=IN IP4 \xff\r\n"),
        Err(Error::SdpMalformed { line: 2, .. })
    ));
}

#[test]
fn missing_mandatory_lines() {
    let missing = |body: &[u8]| match parse(body) {
        Err(Error::SdpMissingLine { line_type }) => line_type,
        other => panic!("{other:?}"),
    };
    assert_eq!(missing(b""), "v=");
    assert_eq!(missing(b"\r\n\r\n"), "v=");
    assert_eq!(missing(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n"), "o=");
    assert_eq!(missing(b"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\n"), "m=");
}

#[test]
fn limits_hold() {
    let huge = vec![b'a'; MAX_BODY + 1];
    assert_eq!(
        parse(&huge),
        Err(Error::SdpTooLarge {
            len: MAX_BODY + 1,
            max: MAX_BODY
        })
    );
    let many_media = format!("{MINIMAL}{}", "m=audio 0 RTP/AVP 0\r\n".repeat(MAX_MEDIA));
    assert!(matches!(
        parse(many_media.as_bytes()),
        Err(Error::SdpTooMany { max: MAX_MEDIA, .. })
    ));
    let formats = " 0".repeat(MAX_FORMATS + 1);
    let many_formats = MINIMAL.replace("RTP/AVP 0", &format!("RTP/AVP{formats}"));
    assert!(matches!(
        parse(many_formats.as_bytes()),
        Err(Error::SdpTooMany { .. })
    ));
    let many_maps = format!(
        "{MINIMAL}{}",
        "a=rtpmap:0 PCMU/8000\r\n".repeat(MAX_FORMATS + 1)
    );
    assert!(matches!(
        parse(many_maps.as_bytes()),
        Err(Error::SdpTooMany { .. })
    ));
}
