//! Who an inbound caller is: the room participant (identity, name, `sip.*` attributes)
//! and the first fields of the call detail record.

use std::collections::HashMap;

use livekit_protocol::{SipCallDirection, SipCallInfo};
use sipbridge_signaling::message::Request;

use super::admit::Admitted;
use crate::cdr::{CallRecord, new_call_id, now_ns};
use crate::room::Identity;

/// The record's fields known when the call arrives.
pub(super) fn call_info(
    invite: &Request,
    admitted: Option<&Admitted<'_>>,
    room: &str,
) -> SipCallInfo {
    let now = now_ns();
    SipCallInfo {
        call_id: new_call_id(),
        sip_call_id: invite.head.call_id.0.clone(),
        trunk_id: admitted
            .map(|a| a.trunk.id.as_str().to_owned())
            .unwrap_or_default(),
        dispatch_rule_id: admitted
            .map(|a| a.rule.id.as_str().to_owned())
            .unwrap_or_default(),
        room_name: room.to_owned(),
        created_at_ns: now,
        call_direction: SipCallDirection::ScdInbound as i32,
        ..SipCallInfo::default()
    }
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
        ("sip.callID", call_id),
        ("sip.callIDFull", invite.head.call_id.0.clone()),
        ("sip.trunkID", admitted.trunk.id.as_str().to_owned()),
        ("sip.ruleID", admitted.rule.id.as_str().to_owned()),
        ("sip.phoneNumber", admitted.caller.clone()),
        ("sip.trunkPhoneNumber", admitted.called.clone()),
        ("sip.callStatus", "ringing".to_owned()),
        (
            "sip.hostname",
            invite
                .uri
                .as_sip()
                .map(|u| u.host.to_string())
                .unwrap_or_default(),
        ),
        ("sip.room", room.to_owned()),
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
