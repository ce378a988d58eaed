//! CreateSIPParticipant's addressing and media fields, as the far end receives them: SIPp
//! plays the carrier and the test reads the INVITEs it got. Through the Python SDK (which
//! has every field): `sip_request_uri`, `sip_to_header`, `sip_from_header`, `media` (codecs
//! and media timeout) and `destination` on one call, `to_user_override` and the inline
//! trunk's `from_host` on another; through the Node SDK (which has `media` and the inline
//! trunk): the codecs and `from_host`. A header smuggled into a URI is refused by both.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::Bed;
use sipbridge_tests::api::{Sdk, create_sip_participant};
use sipbridge_tests::sipp::{self, header};
use sipbridge_tests::sipp_uas::{BRIDGE_HANGS_UP, SippUas, answer};

const WAIT: Duration = Duration::from_secs(30);
const API_LIMIT: Duration = Duration::from_secs(60);

/// A call to the SIPp carrier at `addr` with `fields` on top; answered, then ended by its
/// 1 s max duration.
fn call(bed: &Bed, sdk: Sdk, addr: &str, room: &str, fields: Value) {
    let mut request = json!({
        "trunk": { "hostname": addr },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": room,
        "wait_until_answered": true,
        "max_call_duration_s": 1,
    });
    request
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let reply = create_sip_participant(bed, sdk, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "{sdk:?} {room}: {reply:?}");
}

/// The payload types of the INVITE's audio m-line.
fn offered(invite: &str) -> String {
    let line = invite
        .lines()
        .find(|line| line.starts_with("m=audio"))
        .unwrap();
    line.split(' ').skip(3).collect::<Vec<_>>().join(" ")
}

fn without_tag(value: Option<&str>) -> &str {
    value.unwrap_or_default().split(";tag=").next().unwrap()
}

#[test]
fn addressing_and_media_fields_shape_the_invite_the_far_end_gets() {
    let test = "addressing_and_media_fields_shape_the_invite_the_far_end_gets";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let carrier = SippUas::start(&bed, "fields", &answer(BRIDGE_HANGS_UP), 3, &[]);
    let addr = carrier.addr();
    let everything = json!({
        "sip_request_uri": { "raw": "<sip:+15557654321@core.example:5070>" },
        "sip_to_header": { "display_name": "Front desk", "raw": "sip:desk@pbx.example" },
        "sip_from_header": { "display_name": "Agent", "values": { "user": "agent", "host": "calls.example" } },
        "media": { "codecs": [{ "name": "PCMU" }], "only_listed_codecs": true, "media_timeout": "5s" },
        "destination": { "country": "US" },
    });
    call(&bed, Sdk::Python, &addr, "out-fields-1", everything);
    let to_user = json!({
        "to_user_override": "reception",
        "trunk": { "hostname": addr, "from_host": "sip.example.com" },
    });
    call(&bed, Sdk::Python, &addr, "out-fields-2", to_user);
    let node = json!({
        "trunk": { "hostname": addr, "from_host": "node.example.com" },
        "media": { "codecs": [{ "name": "PCMA" }], "only_listed_codecs": true },
    });
    call(&bed, Sdk::Node, &addr, "out-fields-3", node);
    let run = carrier.finish(WAIT);
    assert!(run.passed, "{}", run.trace);
    let invites = run.received("INVITE");
    assert_eq!(invites.len(), 3, "{invites:?}");

    let first = invites[0];
    println!("INVITE with every field:\n{first}");
    assert!(
        first.starts_with("INVITE sip:+15557654321@core.example:5070 SIP/2.0"),
        "{first}"
    );
    assert_eq!(
        header(first, "To"),
        Some("\"Front desk\" <sip:desk@pbx.example>")
    );
    assert_eq!(
        without_tag(header(first, "From")),
        "\"Agent\" <sip:agent@calls.example>"
    );
    assert_eq!(offered(first), "0", "only PCMU, as listed: {first}");

    let second = invites[1];
    assert!(
        second.starts_with("INVITE sip:+15557654321@127.0.0.1:"),
        "{second}"
    );
    let to = header(second, "To").unwrap();
    assert!(to.starts_with("<sip:reception@127.0.0.1"), "{second}");
    let from = without_tag(header(second, "From"));
    assert!(
        from.ends_with("<sip:+15550199@sip.example.com>"),
        "{second}"
    );

    let third = invites[2];
    let from = without_tag(header(third, "From"));
    assert!(
        from.ends_with("<sip:+15550199@node.example.com>"),
        "{third}"
    );
    assert_eq!(offered(third), "8", "only PCMA, as listed: {third}");
}

#[test]
fn a_header_smuggled_into_a_uri_is_refused_by_name() {
    let test = "a_header_smuggled_into_a_uri_is_refused_by_name";
    let Some(bed) = Bed::get(test) else { return };
    let request = json!({
        "sip_trunk_id": "local-uas",
        "sip_call_to": "+15557654321",
        "room_name": "out-smuggled",
        "sip_to_header": { "raw": "sip:a@b.example\r\nX-Evil: 1" },
    });
    let reply = create_sip_participant(&bed, Sdk::Python, &request, API_LIMIT);
    let error = reply.error.clone().unwrap_or_else(|| panic!("{reply:?}"));
    assert_eq!(error.code, "invalid_argument", "{error:?}");
    assert!(error.message.starts_with("sip_to_header: "), "{error:?}");
    let codec = json!({
        "sip_trunk_id": "local-uas",
        "sip_call_to": "+15557654321",
        "room_name": "out-smuggled",
        "media": { "codecs": [{ "name": "AMR-WB" }] },
    });
    for sdk in [Sdk::Node, Sdk::Python] {
        let reply = create_sip_participant(&bed, sdk, &codec, API_LIMIT);
        let error = reply
            .error
            .clone()
            .unwrap_or_else(|| panic!("{sdk:?}: {reply:?}"));
        assert_eq!(error.code, "invalid_argument", "{sdk:?}: {error:?}");
        assert!(error.message.contains("AMR-WB"), "{sdk:?}: {error:?}");
    }
}
