//! Who an inbound caller is: the room participant (identity, name, `sip.*` attributes)
//! and the first fields of the call detail record.

use std::collections::HashMap;

use livekit_protocol::{SipCallDirection, SipCallInfo};
use sipbridge_signaling::message::Request;
use sipbridge_signaling::outcome::CallStatus;

use super::admit::Admitted;
use crate::cdr::{CallRecord, new_call_id, now_ns};
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

/// The record's fields known once the call is admitted: its trunk, rule and room.
pub(super) fn admitted_info(info: &mut SipCallInfo, admitted: &Admitted<'_>, room: &str) {
    info.trunk_id = admitted.trunk.id.as_str().to_owned();
    info.dispatch_rule_id = admitted.rule.id.as_str().to_owned();
    info.room_name = room.to_owned();
}

/// `sip_<caller>` with the standard `sip.*` attributes, the rule's attributes and the
/// trunk's header mappings.
pub(super) fn participant(
    invite: &Request,
    admitted: &Admitted<'_>,
    room: &str,
    record: &CallRecord,
) -> Identity {
    let mut attributes: HashMap<String, String> =
        admitted.rule.attributes.clone().into_iter().collect();
    let call_id = record.call_id();
    let standard = [
        (attributes::CALL_ID, call_id),
        (attributes::CALL_ID_FULL, invite.head.call_id.0.clone()),
        (attributes::TRUNK_ID, admitted.trunk.id.as_str().to_owned()),
        (attributes::RULE_ID, admitted.rule.id.as_str().to_owned()),
        (attributes::PHONE_NUMBER, admitted.caller.clone()),
        (attributes::TRUNK_PHONE_NUMBER, admitted.called.clone()),
        (
            attributes::CALL_STATUS,
            CallStatus::Ringing.attribute_value().to_owned(),
        ),
        (
            attributes::HOSTNAME,
            invite
                .uri
                .as_sip()
                .map(|u| u.host.to_string())
                .unwrap_or_default(),
        ),
        (attributes::ROOM, room.to_owned()),
    ];
    for (name, value) in standard {
        attributes.insert(name.to_owned(), value);
    }
    for (header, attribute) in &admitted.trunk.headers_to_attributes {
        if let Some(value) = invite.head.other.get(header.as_str()) {
            attributes.insert(attribute.clone(), value.to_owned());
        }
    }
    let display = invite
        .head
        .from
        .display_name_text()
        .unwrap_or_else(|| admitted.caller.clone());
    Identity {
        identity: format!("sip_{}", admitted.caller),
        name: display,
        metadata: admitted.rule.metadata.clone(),
        attributes,
    }
}
