//! Admission, row by row of docs/OUTCOMES.md's "Inbound INVITE refused" table, against the
//! test bed's configuration (config/examples/dev.yaml): pure, no sockets, no clock.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;

use sipbridge_config::Config;
use sipbridge_signaling::auth::Challenger;
use sipbridge_signaling::message::{Limits, Message, Request, parse_message};
use sipbridge_signaling::outcome::InboundRejection;

use super::{Admitted, Refusal};
use crate::inbound::routes::yaml::YamlRoutes;
use crate::inbound::routes::{CallFacts, Dispatched};

fn config() -> Config {
    let text = include_str!("../../../config/examples/dev.yaml");
    sipbridge_config::load_str("dev.yaml", text, |_| None).unwrap()
}

fn invite(number: &str, extra: &str) -> Request {
    let text = format!(
        "INVITE sip:{number}@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKadmit\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15557770001@127.0.0.1>;tag=caller\r\n\
         To: <sip:{number}@127.0.0.1>\r\n\
         Call-ID: admit-1@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@127.0.0.1:5070>\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes(), &Limits::default()).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!(),
    }
}

/// Admission against the YAML's trunks and rules (answered at once: no runtime needed
/// beyond polling the ready future).
fn admit(
    config: &Config,
    challenger: &Mutex<Challenger>,
    invite: &Request,
    source: IpAddr,
    now: SystemTime,
) -> Result<Admitted, Refusal> {
    let routes = YamlRoutes::new(std::sync::Arc::new(config.clone()));
    let transport = sipbridge_signaling::transaction::Transport::Udp;
    let facts = CallFacts::new(invite, "SCL_test".into(), source, transport);
    let admission = super::admit(&routes, challenger, invite, &facts, now);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(admission)
}

/// The trunk and rule an admitted call got.
fn ids(admitted: &Admitted) -> (&str, &str) {
    match &admitted.dispatched {
        Dispatched::Route(route) => (route.trunk_id.as_str(), route.rule_id.as_str()),
        Dispatched::AskPin { .. } => panic!("a YAML rule never asks livekit-server"),
    }
}

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn challenger() -> Mutex<Challenger> {
    Mutex::new(Challenger::new([7; 32], "sipbridge").unwrap())
}

fn rejected(result: Result<Admitted, Refusal>) -> (InboundRejection, bool) {
    match result {
        Err(Refusal::Rejected {
            rejection, silent, ..
        }) => (rejection, silent),
        Err(Refusal::Challenge(_)) => panic!("challenged"),
        Err(Refusal::Unavailable { detail }) => panic!("unavailable: {detail}"),
        Ok(admitted) => panic!("admitted to {:?}", ids(&admitted)),
    }
}

#[test]
fn a_served_number_is_admitted_with_its_trunk_and_rule() {
    let (config, challenger) = (config(), challenger());
    let call = invite("+15550100", "");
    let admitted = admit(&config, &challenger, &call, LOCAL, SystemTime::now()).unwrap();
    assert_eq!(ids(&admitted), ("local-callers", "demo-room"));
    let Dispatched::Route(route) = admitted.dispatched else {
        unreachable!()
    };
    assert_eq!(route.identity, "sip_+15557770001");
}

#[test]
fn no_trunk_or_a_source_no_trunk_allows_is_403_and_silent_with_hide_inbound_port() {
    let (mut config, challenger) = (config(), challenger());
    let now = SystemTime::now();
    let unknown = invite("+15550000", "");
    let forbidden = (InboundRejection::TrunkNotAllowed, false);
    assert_eq!(
        rejected(admit(&config, &challenger, &unknown, LOCAL, now)),
        forbidden
    );
    let remote_only = invite("+15550130", "");
    assert_eq!(
        rejected(admit(&config, &challenger, &remote_only, LOCAL, now)),
        forbidden
    );
    config.sip.hide_inbound_port = true;
    let hidden = rejected(admit(&config, &challenger, &remote_only, LOCAL, now));
    assert_eq!(hidden, (InboundRejection::TrunkNotAllowed, true));
    assert_eq!(hidden.0.outcome().status.code, 403);
}

#[test]
fn a_trunk_without_a_rule_is_404() {
    let (config, challenger) = (config(), challenger());
    let call = invite("+15550140", "");
    let (rejection, _) = rejected(admit(&config, &challenger, &call, LOCAL, SystemTime::now()));
    assert_eq!(rejection, InboundRejection::NoDispatchRule);
    assert_eq!(rejection.outcome().status.code, 404);
}

#[test]
fn digest_auth_challenges_then_admits_the_right_answer_and_refuses_wrong_ones() {
    let (config, challenger) = (config(), challenger());
    let now = SystemTime::now();
    let bare = invite("+15550120", "");
    let Err(Refusal::Challenge(challenges)) = admit(&config, &challenger, &bare, LOCAL, now) else {
        panic!("no 407 challenge");
    };
    let challenge =
        sipbridge_signaling::auth::pick_challenge(challenges.iter().map(String::as_str), None)
            .unwrap();
    let uri = bare.uri.to_string();
    let answer = |password: &str| {
        let value = sipbridge_signaling::auth::respond(
            &challenge, "INVITE", &uri, "bed", password, "0a4f113b", 1,
        )
        .unwrap();
        invite("+15550120", &format!("Proxy-Authorization: {value}\r\n"))
    };
    let admitted = admit(&config, &challenger, &answer("bed-secret"), LOCAL, now).unwrap();
    assert_eq!(admitted.trunk.id, "bed-auth");
    let (wrong, _) = rejected(admit(&config, &challenger, &answer("guess"), LOCAL, now));
    assert!(
        matches!(
            wrong,
            InboundRejection::AuthFailed {
                malformed: false,
                ..
            }
        ),
        "{wrong:?}"
    );
    assert_eq!(wrong.outcome().status.code, 403);
    let garbage = invite("+15550120", "Proxy-Authorization: Digest nonsense\r\n");
    let (malformed, _) = rejected(admit(&config, &challenger, &garbage, LOCAL, now));
    assert!(
        matches!(
            malformed,
            InboundRejection::AuthFailed {
                malformed: true,
                ..
            }
        ),
        "{malformed:?}"
    );
    assert_eq!(malformed.outcome().status.code, 400);
}
