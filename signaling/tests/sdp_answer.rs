//! Answers to offers as carriers and PBXes send them, compared as full SDP text.
#![allow(clippy::unwrap_used)]

mod sdp_common;

use sdp_common::*;
use sipbridge_signaling::sdp::{Codec, MediaDirection, Negotiated, PayloadType};

fn negotiated(codec: Codec, pt: u8, event: Option<u8>, ptime_ms: u32, remote: &str) -> Negotiated {
    Negotiated {
        codec,
        payload_type: PayloadType(pt),
        receive_event_pt: event.map(PayloadType),
        send_event_pt: event.map(PayloadType),
        ptime_ms,
        direction: MediaDirection::SendRecv,
        remote: remote.parse().unwrap(),
    }
}

#[test]
fn twilio_pcmu_with_events() {
    let (answer, media) = default_session().answer(&sdp(TWILIO)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(answer, expected);
    let expected = negotiated(Codec::Pcmu, 0, Some(101), 20, "54.172.60.3:13468");
    assert_eq!(media, expected);
}

#[test]
fn telnyx_with_g722_preferred() {
    let mut local = session(&[Codec::G722, Codec::Pcmu, Codec::Pcma], true);
    let (answer, media) = local.answer(&sdp(TELNYX)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 9 101",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(answer, expected);
    let expected = negotiated(Codec::G722, 9, Some(101), 20, "192.76.120.10:31842");
    assert_eq!(media, expected);
}

#[test]
fn asterisk_maxptime_does_not_change_ptime() {
    let mut local = session(&[Codec::Pcma, Codec::Pcmu], true);
    let (answer, media) = local.answer(&sdp(ASTERISK)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 8 101",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(answer, expected);
    let expected = negotiated(Codec::Pcma, 8, Some(101), 20, "10.20.0.5:17218");
    assert_eq!(media, expected);
}

#[test]
fn freeswitch_opus_takes_the_48_khz_event() {
    let mut local = session(&[Codec::Opus, Codec::G722, Codec::Pcmu], true);
    let (answer, media) = local.answer(&sdp(FREESWITCH)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 102 101",
            "a=rtpmap:102 opus/48000/2",
            "a=fmtp:102 useinbandfec=1",
            "a=rtpmap:101 telephone-event/48000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(answer, expected);
    let expected = negotiated(Codec::Opus, 102, Some(101), 20, "203.0.113.20:24580");
    assert_eq!(media, expected);
}

#[test]
fn freeswitch_g722_takes_the_8_khz_event() {
    let mut local = session(&[Codec::G722, Codec::Opus], true);
    let (answer, media) = local.answer(&sdp(FREESWITCH)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 9 100",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:100 telephone-event/8000",
            "a=fmtp:100 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    );
    assert_eq!(answer, expected);
    assert_eq!(media.receive_event_pt, Some(PayloadType(100)));
    assert_eq!(media.send_event_pt, Some(PayloadType(100)));
}

#[test]
fn opus_without_a_48_khz_event_falls_back_to_8_khz() {
    let offer = edited(
        FREESWITCH,
        "a=rtpmap:101 telephone-event/48000",
        "a=rtpmap:101 telephone-event/16000",
    );
    let (_, media) = session(&[Codec::Opus], true).answer(&offer).unwrap();
    assert_eq!(media.send_event_pt, Some(PayloadType(100)));
}

#[test]
fn video_section_is_refused_in_place() {
    let (answer, media) = default_session().answer(&sdp(LINPHONE_VIDEO)).unwrap();
    let expected = ours(
        1,
        &[
            "m=audio 30000 RTP/AVP 0 100",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:100 telephone-event/8000",
            "a=fmtp:100 0-16",
            "a=ptime:20",
            "a=sendrecv",
            "m=video 0 RTP/AVP 96 97",
        ],
    );
    assert_eq!(answer, expected);
    // The audio section has no c= of its own: the session's applies.
    let expected = negotiated(Codec::Pcmu, 0, Some(100), 20, "192.0.2.44:7078");
    assert_eq!(media, expected);
}

#[test]
fn video_first_and_a_second_audio_are_refused() {
    let body = lines(&[
        "v=0",
        "o=- 7 7 IN IP4 192.0.2.9",
        "s=-",
        "t=0 0",
        "m=video 5000 RTP/AVP 96",
        "c=IN IP4 192.0.2.9",
        "a=rtpmap:96 H264/90000",
        "m=audio 5002 RTP/AVP 8",
        "c=IN IP4 192.0.2.10",
        "a=ptime:30",
        "m=audio 5004 RTP/AVP 0",
        "c=IN IP4 192.0.2.11",
    ]);
    let offer = sdp(body.as_bytes());
    let (answer, media) = session(&[Codec::Pcmu, Codec::Pcma], false)
        .answer(&offer)
        .unwrap();
    let expected = ours(
        1,
        &[
            "m=video 0 RTP/AVP 96",
            "m=audio 30000 RTP/AVP 8",
            "a=rtpmap:8 PCMA/8000",
            "a=ptime:30",
            "a=sendrecv",
            "m=audio 0 RTP/AVP 0",
        ],
    );
    assert_eq!(answer, expected);
    assert_eq!(
        media,
        negotiated(Codec::Pcma, 8, None, 30, "192.0.2.10:5002")
    );
}

#[test]
fn events_disabled_are_left_out() {
    let (answer, media) = session(&[Codec::Pcmu], false).answer(&sdp(TWILIO)).unwrap();
    assert!(!answer.contains("telephone-event"));
    assert_eq!((media.receive_event_pt, media.send_event_pt), (None, None));
}

#[test]
fn codecs_by_name_in_any_case_and_dynamic_numbers() {
    let body = lines(&[
        "v=0",
        "o=- 7 7 IN IP4 192.0.2.9",
        "s=-",
        "c=IN IP4 192.0.2.9",
        "t=0 0",
        "m=audio 5000 RTP/AVPF 96 97 98",
        "a=rtpmap:96 g722/8000",
        "a=rtpmap:97 pcmu/8000",
        "a=rtpmap:98 TELEPHONE-EVENT/8000",
        "a=rtcp-fb:* nack",
    ]);
    let (answer, media) = session(&[Codec::Pcmu], true)
        .answer(&sdp(body.as_bytes()))
        .unwrap();
    assert!(
        answer.contains("m=audio 30000 RTP/AVPF 97 98\r\n"),
        "{answer}"
    );
    assert_eq!(media.payload_type, PayloadType(97));
    assert_eq!(media.send_event_pt, Some(PayloadType(98)));
}

#[test]
fn an_rtpmap_overrides_a_static_number_and_g722_at_16_khz_is_not_g722() {
    let offer = edited(TELNYX, "a=rtpmap:9 G722/8000", "a=rtpmap:9 G722/16000");
    let (_, media) = session(&[Codec::G722, Codec::Pcma], true)
        .answer(&offer)
        .unwrap();
    assert_eq!(media.codec, Codec::Pcma);
    let offer = edited(TWILIO, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 G729/8000");
    let (_, media) = default_session().answer(&offer).unwrap();
    assert_eq!(media.codec, Codec::Pcma);
}

#[test]
fn ipv6_remote_and_local() {
    let offer = edited(TWILIO, "c=IN IP4 54.172.60.3", "c=IN IP6 2001:db8::5");
    let mut local = sipbridge_signaling::sdp::LocalSession::new(
        9,
        "[2001:db8::7]:40000".parse().unwrap(),
        Default::default(),
    );
    let (answer, media) = local.answer(&offer).unwrap();
    assert!(
        answer.contains("o=- 9 1 IN IP6 2001:db8::7\r\n"),
        "{answer}"
    );
    assert!(answer.contains("c=IN IP6 2001:db8::7\r\n"), "{answer}");
    assert!(
        answer.contains("m=audio 40000 RTP/AVP 0 101\r\n"),
        "{answer}"
    );
    assert_eq!(media.remote, "[2001:db8::5]:13468".parse().unwrap());
}
