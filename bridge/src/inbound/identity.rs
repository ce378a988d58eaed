//! Who an inbound caller is: the room participant (identity, name, `sip.*` attributes)
//! and the first fields of the call detail record.

use livekit_protocol::{SipCallDirection, SipCallInfo};
use sipbridge_signaling::message::Request;
use sipbridge_signaling::outcome::CallStatus;

use super::routes::{CallFacts, Route};
use crate::cdr::{new_call_id, now_ns};
use crate::room::{Identity, attributes};

/// The record's fields known when the INVITE arrives.
pub(super) fn call_info(invite: &Request) -> SipCallInfo {
    SipCallInfo {
        call_id: new_call_id(),
        sip_call_id: invite.head.call_id.0.clone(),
        created_at_ns: now_ns(),
        call_direction: SipCallDirection::ScdInbound as i32,
        ..SipCallInfo::default()
    }
}

/// The record's fields known once the call's trunk, rule and room are.
pub(super) fn routed_info(info: &mut SipCallInfo, trunk_id: &str, rule_id: &str, room: &str) {
    info.trunk_id = trunk_id.to_owned();
    info.dispatch_rule_id = rule_id.to_owned();
    info.room_name = room.to_owned();
}

/// The route's participant with the standard `sip.*` attributes (ours win over the
/// route's: they describe this call) and the trunk's header mappings.
pub(super) fn participant(
    invite: &Request,
    call: &CallFacts,
    route: &Route,
    call_id: String,
) -> Identity {
    let mut attributes = route.attributes.clone();
    let standard = [
        (attributes::CALL_ID, call_id),
        (attributes::CALL_ID_FULL, invite.head.call_id.0.clone()),
        (attributes::TRUNK_ID, route.trunk_id.clone()),
        (attributes::RULE_ID, route.rule_id.clone()),
        (attributes::PHONE_NUMBER, call.caller.clone()),
        (attributes::TRUNK_PHONE_NUMBER, call.called.clone()),
        (
            attributes::CALL_STATUS,
            CallStatus::Ringing.attribute_value().to_owned(),
        ),
        (attributes::HOSTNAME, call.request_host.clone()),
        (attributes::ROOM, route.room.clone()),
    ];
    for (name, value) in standard {
        attributes.insert(name.to_owned(), value);
    }
    for (header, attribute) in &route.headers_to_attributes {
        if let Some(value) = invite.head.other.get(header.as_str()) {
            attributes.insert(attribute.clone(), value.to_owned());
        }
    }
    attributes.extend(attributes::included_headers(
        route.include_headers,
        invite.head.other.iter(),
    ));
    let name = route.name.clone().unwrap_or_else(|| {
        invite
            .head
            .from
            .display_name_text()
            .unwrap_or_else(|| call.caller.clone())
    });
    Identity {
        identity: route.identity.clone(),
        name,
        metadata: route.metadata.clone(),
        attributes,
        room_config: route.room_config.clone(),
    }
}
