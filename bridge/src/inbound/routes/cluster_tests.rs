//! livekit-server's answers, each mapped onto its row of docs/OUTCOMES.md.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::*;
use livekit_protocol::RoomConfiguration;

fn facts() -> CallFacts {
    CallFacts {
        call_id: "SCL_test".into(),
        sip_call_id: "abc@127.0.0.1".into(),
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        caller: "+15557770001".into(),
        called: "+15550100".into(),
        to_user: "+15550100".into(),
        from_host: "carrier.example".into(),
        to_host: "bridge.example".into(),
        request_host: "127.0.0.1".into(),
        request_port: 5060,
        transport: Transport::Udp,
    }
}

fn refusal(result: Result<TrunkMatch, Refusal>) -> (InboundRejection, bool) {
    match result {
        Err(Refusal::Rejected {
            rejection, silent, ..
        }) => (rejection, silent),
        other => panic!("{other:?}"),
    }
}

#[test]
fn trunk_answers_map_onto_the_refusal_rows() {
    let drop = TrunkAuthentication {
        drop: true,
        ..TrunkAuthentication::default()
    };
    assert_eq!(
        refusal(trunk_match(drop)),
        (InboundRejection::TrunkNotAllowed, true)
    );
    let quota = TrunkAuthentication {
        error_code: QUOTA_EXCEEDED,
        ..TrunkAuthentication::default()
    };
    assert_eq!(
        refusal(trunk_match(quota)),
        (InboundRejection::QuotaExceeded, false)
    );
    let unknown = TrunkAuthentication {
        error_code: NO_TRUNK_FOUND,
        ..TrunkAuthentication::default()
    };
    assert_eq!(
        refusal(trunk_match(unknown)),
        (InboundRejection::TrunkNotAllowed, false)
    );
}

#[test]
fn a_trunk_with_credentials_is_challenged_with_md5_and_none_lets_the_rules_decide() {
    let guarded = TrunkAuthentication {
        sip_trunk_id: "ST_1".into(),
        username: "alice".into(),
        password: "wonderland".into(),
        ..TrunkAuthentication::default()
    };
    let trunk = trunk_match(guarded).unwrap();
    assert_eq!(trunk.id, "ST_1");
    assert_eq!(
        trunk.credentials,
        Some(("alice".to_owned(), "wonderland".to_owned()))
    );
    assert_eq!(trunk.algorithms, [Algorithm::Md5]);
    let none = trunk_match(TrunkAuthentication::default()).unwrap();
    assert_eq!((none.id.as_str(), none.credentials), ("", None));
}

#[test]
fn dispatch_results_map_onto_routes_pins_and_refusals() {
    let trunk = trunk_match(TrunkAuthentication::default()).unwrap();
    let answer = |result: DispatchResult| Dispatch {
        result: result as i32,
        room_name: "room".into(),
        sip_dispatch_rule_id: "SDR_1".into(),
        ..Dispatch::default()
    };
    let outcome = |result| dispatched(answer(result), &facts(), &trunk);
    assert!(matches!(
        outcome(DispatchResult::Accept),
        Ok(Dispatched::Route(_))
    ));
    assert!(matches!(
        outcome(DispatchResult::RequestPin),
        Ok(Dispatched::AskPin { .. })
    ));
    let legacy_pin = Dispatch {
        request_pin: true,
        ..answer(DispatchResult::LegacyAcceptOrPin)
    };
    assert!(matches!(
        dispatched(legacy_pin, &facts(), &trunk),
        Ok(Dispatched::AskPin { .. })
    ));
    let rejected = |result| match outcome(result) {
        Err(Refusal::Rejected {
            rejection, silent, ..
        }) => (rejection, silent),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        rejected(DispatchResult::Reject),
        (InboundRejection::NoDispatchRule, false)
    );
    assert_eq!(
        rejected(DispatchResult::Drop),
        (InboundRejection::NoDispatchRule, true)
    );
}

#[test]
fn the_route_takes_the_rules_participant_and_room() {
    let trunk = trunk_match(TrunkAuthentication {
        sip_trunk_id: "ST_1".into(),
        ..TrunkAuthentication::default()
    })
    .unwrap();
    let config = RoomConfiguration {
        agents: vec![livekit_protocol::RoomAgentDispatch {
            agent_name: "receptionist".into(),
            ..Default::default()
        }],
        ..RoomConfiguration::default()
    };
    let answer = Dispatch {
        result: DispatchResult::Accept as i32,
        room_name: "call-+15557770001_x".into(),
        participant_name: "Caller".into(),
        participant_metadata: "{}".into(),
        sip_dispatch_rule_id: "SDR_1".into(),
        participant_attributes: BTreeMap::from([("team".into(), "sales".into())]),
        headers_to_attributes: BTreeMap::from([("X-Tag".into(), "tag".into())]),
        max_call_duration: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        room_config: Some(config.clone()),
        ..Dispatch::default()
    };
    let Ok(Dispatched::Route(route)) = dispatched(answer, &facts(), &trunk) else {
        panic!("not routed");
    };
    assert_eq!(route.room, "call-+15557770001_x");
    // livekit-server left the identity to the node: LiveKit's own default.
    assert_eq!(route.identity, "sip_+15557770001");
    assert_eq!(route.name.as_deref(), Some("Caller"));
    assert_eq!(
        (route.trunk_id.as_str(), route.rule_id.as_str()),
        ("ST_1", "SDR_1")
    );
    assert_eq!(route.attributes["team"], "sales");
    assert_eq!(
        route.headers_to_attributes,
        [("X-Tag".into(), "tag".into())]
    );
    assert_eq!(route.max_call_duration, Some(Duration::from_secs(60)));
    assert_eq!(route.pin_timeout, DEFAULT_RINGING_TIMEOUT);
    assert_eq!(route.listener_timeout, None);
    assert_eq!(route.room_config, Some(config));
    assert_eq!(route.pin, None);
}

#[test]
fn the_call_is_described_with_from_and_to_always_set() {
    let call = sip_call(&facts());
    let (from, to) = (call.from.unwrap(), call.to.unwrap());
    assert_eq!(
        (from.user.as_str(), from.ip.as_str()),
        ("+15557770001", "127.0.0.1")
    );
    assert_eq!(
        (to.user.as_str(), to.host.as_str()),
        ("+15550100", "bridge.example")
    );
    assert_eq!(call.address.unwrap().port, 5060);
    assert_eq!(call.lk_call_id, "SCL_test");
}

#[test]
fn the_rules_include_headers_put_the_invites_headers_in_attributes() {
    let trunk = trunk_match(TrunkAuthentication::default()).unwrap();
    let invite = crate::call::scripted_phone::invite(
        "X-Customer: 42\nUser-Agent: deskphone\nX-Tag: t-1\n",
        "",
    );
    let attributes_with = |include: livekit_protocol::SipHeaderOptions| {
        let answer = Dispatch {
            result: DispatchResult::Accept as i32,
            room_name: "room".into(),
            headers_to_attributes: BTreeMap::from([("X-Tag".into(), "tag".into())]),
            include_headers: include as i32,
            ..Dispatch::default()
        };
        let Ok(Dispatched::Route(route)) = dispatched(answer, &facts(), &trunk) else {
            panic!("not routed");
        };
        let identity =
            crate::inbound::identity::participant(&invite, &facts(), &route, "SCL_x".into());
        let mut headers: Vec<(String, String)> = identity
            .attributes
            .into_iter()
            .filter(|(name, _)| name.starts_with("sip.h.") || name == "tag")
            .collect();
        headers.sort();
        headers
    };
    let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    use livekit_protocol::SipHeaderOptions as Include;
    // headers_to_attributes holds whatever include_headers says.
    assert_eq!(attributes_with(Include::SipNoHeaders), [pair("tag", "t-1")]);
    assert_eq!(
        attributes_with(Include::SipXHeaders),
        [
            pair("sip.h.x-customer", "42"),
            pair("sip.h.x-tag", "t-1"),
            pair("tag", "t-1")
        ]
    );
    assert!(
        attributes_with(Include::SipAllHeaders).contains(&pair("sip.h.user-agent", "deskphone"))
    );
}

/// The trunk's `ringing_timeout` in livekit-server's answer: the caller waits in the room for
/// someone to listen, that long, before the 200.
#[test]
fn a_trunks_ringing_timeout_makes_the_call_wait_for_a_listener() {
    let trunk = trunk_match(TrunkAuthentication::default()).unwrap();
    let answer = Dispatch {
        result: DispatchResult::Accept as i32,
        room_name: "room".into(),
        ringing_timeout: Some(prost_types::Duration {
            seconds: 12,
            nanos: 0,
        }),
        ..Dispatch::default()
    };
    let Ok(Dispatched::Route(route)) = dispatched(answer, &facts(), &trunk) else {
        panic!("not routed");
    };
    assert_eq!(route.listener_timeout, Some(Duration::from_secs(12)));
    assert!(!route.early_media);
}
