//! Our offers (outbound calls) and the answers to them, including our offer answered by our
//! own answerer.
#![allow(clippy::unwrap_used)]

mod sdp_common;

use sdp_common::*;
use sipbridge_signaling::Error;
use sipbridge_signaling::sdp::{
    Codec, CodecPreferences, LocalSession, MediaDirection, PayloadType, parse,
};

#[test]
fn offer_lists_every_preferred_codec_and_both_event_clocks() {
    let offer = default_session().offer();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 0 8 9 111 101 110",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 useinbandfec=1",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=rtpmap:110 telephone-event/48000",
            "a=fmtp:110 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(offer, expected);
}

#[test]
fn offer_without_opus_or_events() {
    let offer = session(&[Codec::G722, Codec::Pcma], false).offer();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 9 8",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(offer, expected);
    let only_g711 = session(&[Codec::Pcmu], true).offer();
    assert!(
        only_g711.contains("m=audio 30000 RTP/AVP 0 101\r\n"),
        "{only_g711}"
    );
    assert!(!only_g711.contains("/48000"), "{only_g711}");
}

#[test]
fn preferences_drop_duplicates_and_refuse_an_empty_list() {
    let prefs = CodecPreferences::new(&[Codec::Pcma, Codec::Pcmu, Codec::Pcma], true).unwrap();
    assert_eq!(prefs.codecs(), [Codec::Pcma, Codec::Pcmu]);
    assert_eq!(
        CodecPreferences::new(&[], true),
        Err(Error::SdpNoCodecConfigured)
    );
}

#[test]
fn our_offer_answered_by_our_answerer() {
    let mut caller = default_session();
    let callee_address = "203.0.113.50:50000".parse().unwrap();
    let callee_prefs = CodecPreferences::new(&[Codec::Opus, Codec::Pcmu], true).unwrap();
    let mut callee = LocalSession::new(77, callee_address, callee_prefs);

    let offer = caller.offer();
    let (answer, at_callee) = callee.answer(&parse(offer.as_bytes()).unwrap()).unwrap();
    let at_caller = caller
        .handle_answer(&parse(answer.as_bytes()).unwrap())
        .unwrap();

    assert_eq!(at_callee.codec, Codec::Opus);
    assert_eq!(at_caller.codec, Codec::Opus);
    assert_eq!(at_caller.payload_type, PayloadType(111));
    assert_eq!(at_callee.payload_type, PayloadType(111));
    assert_eq!(at_callee.send_event_pt, Some(PayloadType(110)));
    assert_eq!(at_caller.send_event_pt, at_callee.receive_event_pt);
    assert_eq!(at_caller.receive_event_pt, at_callee.send_event_pt);
    assert_eq!(at_caller.remote, callee_address);
    assert_eq!(at_callee.remote, local_address());
    assert_eq!(at_caller.direction, MediaDirection::SendRecv);
    assert_eq!(at_callee.direction, MediaDirection::SendRecv);

    // We hold the callee; it answers recvonly; both ends agree.
    caller.set_on_hold(true);
    let hold = caller.offer();
    let (answer, at_callee) = callee.answer(&parse(hold.as_bytes()).unwrap()).unwrap();
    assert!(answer.contains("a=recvonly"), "{answer}");
    let at_caller = caller
        .handle_answer(&parse(answer.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(at_caller.direction, MediaDirection::SendOnly);
    assert_eq!(at_callee.direction, MediaDirection::RecvOnly);
}

/// A phone's answer to our default offer.
fn phone_answer(m_line: &str, maps: &[&str]) -> String {
    let mut all = vec![
        "v=0",
        "o=phone 5 5 IN IP4 192.0.2.80",
        "s=-",
        "c=IN IP4 192.0.2.80",
        "t=0 0",
        m_line,
    ];
    all.extend_from_slice(maps);
    lines(&all)
}

#[test]
fn answer_picks_the_first_offered_codec_it_lists() {
    let mut local = default_session();
    local.offer();
    let answer = phone_answer(
        "m=audio 6000 RTP/AVP 18 8 0 101",
        &[
            "a=rtpmap:18 G729/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=ptime:30",
        ],
    );
    let media = local
        .handle_answer(&parse(answer.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(media.codec, Codec::Pcma);
    assert_eq!(media.payload_type, PayloadType(8));
    assert_eq!(media.ptime_ms, 30);
    assert_eq!(media.remote, "192.0.2.80:6000".parse().unwrap());
    assert_eq!(media.send_event_pt, Some(PayloadType(101)));
    assert_eq!(media.receive_event_pt, Some(PayloadType(101)));
}

#[test]
fn event_numbers_can_differ_per_direction() {
    let mut local = default_session();
    local.offer();
    // The phone renumbers the event (RFC 3264 §6.1 only says SHOULD keep ours) and leaves
    // out the rtpmap of our opus number.
    let answer = phone_answer(
        "m=audio 6000 RTP/AVP 111 96",
        &["a=rtpmap:96 telephone-event/48000", "a=fmtp:96 0-15"],
    );
    let media = local
        .handle_answer(&parse(answer.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(media.codec, Codec::Opus);
    assert_eq!(media.send_event_pt, Some(PayloadType(96)));
    assert_eq!(media.receive_event_pt, Some(PayloadType(110)));
}

#[test]
fn answers_we_cannot_use() {
    let mut local = session(&[Codec::Pcmu, Codec::Pcma], true);
    let answer = phone_answer("m=audio 6000 RTP/AVP 0", &[]);
    let parsed = parse(answer.as_bytes()).unwrap();
    assert_eq!(local.handle_answer(&parsed), Err(Error::SdpNoOfferSent));
    local.offer();
    assert!(local.handle_answer(&parsed).is_ok());

    let cases = [
        (
            phone_answer("m=audio 6000 RTP/AVP 9", &[]),
            Error::SdpNoCommonCodec,
        ),
        (
            phone_answer("m=audio 6000 RTP/AVP 111", &["a=rtpmap:111 opus/48000/2"]),
            Error::SdpNoCommonCodec,
        ),
        (
            phone_answer("m=audio 0 RTP/AVP 0", &[]),
            Error::SdpMediaRejected,
        ),
        (
            phone_answer("m=audio 6000 RTP/SAVP 0", &[]),
            Error::SdpSrtpNotSupported,
        ),
        (
            phone_answer("m=video 6000 RTP/AVP 96", &[]),
            Error::SdpNoAudio,
        ),
        (
            phone_answer("m=audio 6000 RTP/AVP 0", &["m=video 0 RTP/AVP 96"]),
            Error::SdpAnswerMismatch {
                offered: 1,
                answered: 2,
            },
        ),
        (
            phone_answer("m=audio 6000 RTP/AVP 0", &["c=IN IP4 media.example.net"]),
            Error::SdpHostAddress {
                host: "media.example.net".into(),
            },
        ),
    ];
    for (answer, error) in cases {
        let parsed = parse(answer.as_bytes()).unwrap();
        assert_eq!(local.handle_answer(&parsed), Err(error), "{answer}");
    }
}

#[test]
fn re_offer_keeps_the_numbers_the_phone_chose() {
    let mut local = default_session();
    local.answer(&sdp(FREESWITCH)).unwrap();
    let offer = local.offer();
    assert!(offer.contains("o=- 4242 2 IN IP4"), "{offer}");
    // Opus stays 102 and the events keep 100 (8 kHz) and 101 (48 kHz).
    assert!(
        offer.contains("m=audio 30000 RTP/AVP 0 8 9 102 100 101\r\n"),
        "{offer}"
    );
    assert!(offer.contains("a=rtpmap:102 opus/48000/2\r\n"), "{offer}");
    assert!(
        offer.contains("a=rtpmap:100 telephone-event/8000\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=rtpmap:101 telephone-event/48000\r\n"),
        "{offer}"
    );

    // A phone that used 111 and 101 for something else pushes ours to free numbers, and a
    // static number it remapped is not reused for our codec.
    let mut local = default_session();
    let mut offer = edited(
        TWILIO,
        "m=audio 13468 RTP/AVP 0 8 101",
        "m=audio 13468 RTP/AVP 0 8 101 111 110 96",
    );
    offer.media[0]
        .rtpmaps
        .retain(|m| m.payload_type != PayloadType(101));
    for (pt, name) in [(101, "speex"), (111, "iLBC"), (110, "AMR"), (96, "GSM-EFR")] {
        offer.media[0]
            .rtpmaps
            .push(sipbridge_signaling::sdp::RtpMap {
                payload_type: PayloadType(pt),
                encoding: name.into(),
                clock_rate: 8_000,
                channels: None,
            });
    }
    offer.media[0].rtpmaps[0].encoding = "G726-32".into();
    local.answer(&offer).unwrap();
    let ours = local.offer();
    assert!(
        ours.contains("m=audio 30000 RTP/AVP 97 8 9 98 99 100\r\n"),
        "{ours}"
    );
    assert!(ours.contains("a=rtpmap:97 PCMU/8000\r\n"), "{ours}");
    assert!(ours.contains("a=rtpmap:98 opus/48000/2\r\n"), "{ours}");
}
