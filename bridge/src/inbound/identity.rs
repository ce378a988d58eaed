//! Who an inbound caller is: the room participant (identity, name, `sip.*` attributes)
//! and the first fields of the call detail record.

use livekit_protocol::{SipCallDirection, SipCallInfo};
use sha2::{Digest, Sha256};
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
        (
            attributes::CALL_STATUS,
            CallStatus::Ringing.attribute_value().to_owned(),
        ),
        (attributes::ROOM, route.room.clone()),
    ];
    let numbers = [
        (attributes::PHONE_NUMBER, call.caller.clone()),
        (attributes::TRUNK_PHONE_NUMBER, call.called.clone()),
        (attributes::HOSTNAME, call.request_host.clone()),
    ];
    let numbers = numbers.into_iter().filter(|_| !route.hide_phone_number);
    for (name, value) in standard.into_iter().chain(numbers) {
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
        if route.hide_phone_number {
            return hidden_name(&call.caller);
        }
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

/// The identity of a caller whose number the rule hides: `sip_` and the first 8 bytes of the
/// number's SHA-256 in hex, stable per number (as LiveKit's `hide_phone_number` makes it).
pub(super) fn hidden_identity(number: &str) -> String {
    let digest = Sha256::digest(number.as_bytes());
    let hex: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sip_{hex}")
}

/// The name of such a caller: `Phone` and the number's last 4 digits (1 of a short number).
fn hidden_name(number: &str) -> String {
    let keep = if number.chars().count() <= 4 { 1 } else { 4 };
    let skip = number.chars().count().saturating_sub(keep);
    let tail: String = number.chars().skip(skip).collect();
    format!("Phone {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_number_leaves_a_stable_hash_and_its_last_digits() {
        let identity = hidden_identity("+15557770001");
        assert_eq!(identity, hidden_identity("+15557770001"));
        assert_ne!(identity, hidden_identity("+15557770002"));
        assert_eq!(identity.len(), "sip_".len() + 16);
        assert!(!identity.contains("5557770001"));
        assert_eq!(hidden_name("+15557770001"), "Phone 0001");
        assert_eq!(hidden_name("204"), "Phone 4");
    }
}
