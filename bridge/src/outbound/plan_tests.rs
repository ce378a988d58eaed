#![allow(clippy::unwrap_used)]

use livekit_protocol::SipOutboundConfig;

use super::*;
use crate::api::fields::DEFAULT_RINGING_TIMEOUT;

const CONFIG: &str = r#"
livekit: { url: "ws://127.0.0.1:7880", api_key: devkey, api_secret: secret }
sip: { external_ip: 192.0.2.10 }
outbound_trunks:
  - id: carrier
    address: sip.carrier.example:5080
    transport: tcp
    numbers: ["+15550199", "+15550198"]
    auth: { username: bridge, password: s3cret }
    headers: { X-Account: "42" }
"#;

fn config() -> Config {
    sipbridge_config::load_str("test.yaml", CONFIG, |_| None).unwrap()
}

fn request() -> CreateSipParticipantRequest {
    CreateSipParticipantRequest {
        sip_trunk_id: "carrier".into(),
        sip_call_to: "+15557654321".into(),
        room_name: "sales".into(),
        ..CreateSipParticipantRequest::default()
    }
}

fn invalid(request: CreateSipParticipantRequest) -> String {
    match Plan::new(&config(), request) {
        Err(CreateError::Invalid(message)) => message,
        other => panic!("expected invalid_argument, got {other:?}"),
    }
}

#[test]
fn a_yaml_trunk_gives_address_credentials_headers_and_the_first_number() {
    let plan = Plan::new(&config(), request()).unwrap();
    assert_eq!(plan.trunk.host, "sip.carrier.example");
    assert_eq!(plan.trunk.port, 5080);
    assert_eq!(plan.trunk.transport, Transport::Tcp);
    assert_eq!(
        plan.trunk.credentials,
        Some(("bridge".into(), "s3cret".into()))
    );
    assert_eq!(plan.trunk.headers, [("X-Account".into(), "42".into())]);
    assert_eq!(plan.from_number, "+15550199");
    assert_eq!(plan.display_name.as_deref(), Some("+15550199"));
    assert_eq!(plan.identity, "sip_+15557654321");
    assert_eq!(plan.ringing_timeout, DEFAULT_RINGING_TIMEOUT);
    assert_eq!(plan.max_call_duration, None);
}

#[test]
fn request_fields_override_the_defaults() {
    let mut request = request();
    request.sip_number = "+15550198".into();
    request.display_name = Some(String::new());
    request.participant_identity = "callee".into();
    request.headers = HashMap::from([("X-Campaign".into(), "spring".into())]);
    request.ringing_timeout = Some(pbjson_types::Duration {
        seconds: 5,
        nanos: 0,
    });
    request.max_call_duration = Some(pbjson_types::Duration {
        seconds: 60,
        nanos: 0,
    });
    let plan = Plan::new(&config(), request).unwrap();
    assert_eq!(plan.from_number, "+15550198");
    assert_eq!(plan.display_name, None, "empty: no display name");
    assert_eq!(plan.identity, "callee");
    assert_eq!(plan.trunk.headers.len(), 2);
    assert_eq!(plan.ringing_timeout, Duration::from_secs(5));
    assert_eq!(plan.max_call_duration, Some(Duration::from_secs(60)));
}

#[test]
fn hide_phone_number_keeps_the_number_out_of_the_identity() {
    let mut request = request();
    request.hide_phone_number = true;
    let plan = Plan::new(&config(), request).unwrap();
    assert!(!plan.identity.contains("5557654321"), "{}", plan.identity);
    assert!(!plan.name.contains("5557654321"), "{}", plan.name);
}

#[test]
fn an_inline_trunk_needs_a_number_and_takes_its_transport() {
    let mut request = request();
    request.sip_trunk_id.clear();
    request.trunk = Some(SipOutboundConfig {
        hostname: "127.0.0.1:5090".into(),
        transport: SipTransport::Tcp as i32,
        auth_username: "u".into(),
        auth_password: "p".into(),
        ..SipOutboundConfig::default()
    });
    assert!(invalid(request.clone()).contains("sip_number"));
    request.sip_number = "+15550100".into();
    let plan = Plan::new(&config(), request).unwrap();
    assert_eq!(
        (plan.trunk.host.as_str(), plan.trunk.port),
        ("127.0.0.1", 5090)
    );
    assert_eq!(plan.trunk.transport, Transport::Tcp);
    assert_eq!(plan.trunk.credentials, Some(("u".into(), "p".into())));
    assert_eq!(plan.trunk.id, "");
}

#[test]
fn mistakes_are_refused_with_what_was_wrong() {
    type Change = fn(&mut CreateSipParticipantRequest);
    let cases: Vec<(Change, &str)> = vec![
        (|r| r.sip_call_to.clear(), "sip_call_to is required"),
        (|r| r.room_name.clear(), "room_name is required"),
        (
            |r| r.sip_trunk_id.clear(),
            "sip_trunk_id or trunk is required",
        ),
        (|r| r.sip_number = "+19999".into(), "not a number of trunk"),
        (|r| r.dtmf = "12x".into(), "'x' is not a DTMF digit"),
        (
            |r| r.sip_call_to = "+1555;x=1".into(),
            "';' cannot be dialled",
        ),
        (
            |r| r.sip_call_to = "bob@evil".into(),
            "'@' cannot be dialled",
        ),
        (
            |r| r.headers = HashMap::from([("Via".into(), "x".into())]),
            "Via is set by the bridge",
        ),
        (
            |r| r.headers = HashMap::from([("X-A".into(), "1\r\nVia: evil".into())]),
            "spans lines",
        ),
        (
            |r| r.headers = HashMap::from([("X A".into(), "1".into())]),
            "not a SIP header name",
        ),
        (
            |r| {
                r.ringing_timeout = Some(pbjson_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                })
            },
            "over the",
        ),
        (|r| r.trunk = Some(SipOutboundConfig::default()), "not both"),
    ];
    for (change, expected) in cases {
        let mut request = request();
        change(&mut request);
        let message = invalid(request);
        assert!(
            message.contains(expected),
            "{message:?} should say {expected:?}"
        );
    }
    let mut unknown = request();
    unknown.sip_trunk_id = "nope".into();
    assert_eq!(
        Plan::new(&config(), unknown).unwrap_err(),
        CreateError::NotFound("no outbound trunk \"nope\"".into())
    );
}
