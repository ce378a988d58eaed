//! The caller's own Request-URI, To, From, codecs and media timeout: taken when they parse,
//! refused naming the field when not.
#![allow(clippy::unwrap_used)]

use livekit_protocol::{
    CreateSipParticipantRequest, SipCodec, SipMediaConfig, SipNamedDest, SipOutboundConfig,
    SipRequestDest, SipTransport, SipUri, sip_named_dest, sip_request_dest,
};
use sipbridge_config::Codec;

use super::*;

fn request(change: impl FnOnce(&mut CreateSipParticipantRequest)) -> CreateSipParticipantRequest {
    let mut request = CreateSipParticipantRequest {
        sip_call_to: "+15550100".into(),
        room_name: "room".into(),
        ..CreateSipParticipantRequest::default()
    };
    change(&mut request);
    request
}

fn refusal(request: &CreateSipParticipantRequest) -> String {
    match Overrides::of(request) {
        Err(CreateError::Invalid(message)) => message,
        other => panic!("taken: {other:?}"),
    }
}

#[test]
fn request_uri_to_and_from_parse_from_raw_or_values() {
    let got = Overrides::of(&request(|r| {
        r.sip_request_uri = Some(SipRequestDest {
            uri: Some(sip_request_dest::Uri::Raw(
                "<sip:+15550100@core.example:5070;transport=tcp>".into(),
            )),
        });
        r.sip_to_header = Some(SipNamedDest {
            display_name: "Front \"desk\"".into(),
            uri: Some(sip_named_dest::Uri::Values(SipUri {
                user: "desk".into(),
                host: "pbx.example".into(),
                transport: SipTransport::Tcp as i32,
                ..SipUri::default()
            })),
        });
        r.sip_from_header = Some(SipNamedDest {
            uri: Some(sip_named_dest::Uri::Raw("sip:agent@192.0.2.7".into())),
            ..SipNamedDest::default()
        });
        r.to_user_override = "reception".into();
        r.trunk = Some(SipOutboundConfig {
            from_host: "sip.example.com".into(),
            ..SipOutboundConfig::default()
        });
    }))
    .unwrap();
    let request_uri = got.request_uri.unwrap().to_string();
    assert_eq!(request_uri, "sip:+15550100@core.example:5070;transport=tcp");
    let to = got.to.unwrap();
    assert_eq!(to.display_name.as_deref(), Some("\"Front \\\"desk\\\"\""));
    assert_eq!(to.uri.to_string(), "sip:desk@pbx.example;transport=tcp");
    assert_eq!(got.from.unwrap().uri.to_string(), "sip:agent@192.0.2.7");
    assert_eq!(got.to_user.as_deref(), Some("reception"));
    assert_eq!(got.from_host.as_deref(), Some("sip.example.com"));
}

#[test]
fn nothing_that_could_break_out_of_a_header_is_taken() {
    let raw = |text: &str| {
        request(|r| {
            r.sip_to_header = Some(SipNamedDest {
                uri: Some(sip_named_dest::Uri::Raw(text.into())),
                ..SipNamedDest::default()
            });
        })
    };
    for bad in [
        "sip:a@b.example\r\nX-Evil: 1",
        "not a uri",
        "sips:a@b.example",
        "tel:+15550100",
        "sip:a@b.example?Subject=hi",
    ] {
        let message = refusal(&raw(bad));
        assert!(message.starts_with("sip_to_header: "), "{bad}: {message}");
    }
    let message = refusal(&request(|r| r.to_user_override = "a@b".into()));
    assert!(message.starts_with("to_user_override: "), "{message}");
    let message = refusal(&request(|r| {
        r.trunk = Some(SipOutboundConfig {
            from_host: "bad host\r\n".into(),
            ..SipOutboundConfig::default()
        });
    }));
    assert!(message.starts_with("trunk.from_host: "), "{message}");
}

#[test]
fn the_calls_codecs_go_first_or_alone_and_its_media_timeout_applies() {
    let media = |codecs: &[&str], only_listed_codecs: bool| {
        request(|r| {
            r.media = Some(SipMediaConfig {
                codecs: codecs
                    .iter()
                    .map(|name| SipCodec {
                        name: (*name).into(),
                        rate: 0,
                    })
                    .collect(),
                only_listed_codecs,
                media_timeout: Some(pbjson_types::Duration {
                    seconds: 5,
                    nanos: 0,
                }),
                ..SipMediaConfig::default()
            });
        })
    };
    let yaml = Rtp::default();
    let alone = Overrides::of(&media(&["g722"], true)).unwrap().rtp(&yaml);
    assert_eq!(alone.codecs, [Codec::G722]);
    assert_eq!(alone.media_timeout.0, Duration::from_secs(5));
    let first = Overrides::of(&media(&["PCMA"], false)).unwrap().rtp(&yaml);
    assert_eq!(first.codecs[0], Codec::Pcma);
    assert!(first.codecs.len() > 1 && first.codecs.contains(&Codec::Pcmu));
    let message = refusal(&media(&["AMR"], true));
    assert!(message.starts_with("media.codecs: \"AMR\""), "{message}");
    assert!(refusal(&media(&[], true)).starts_with("media.only_listed_codecs"));
}
