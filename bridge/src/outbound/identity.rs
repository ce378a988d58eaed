//! Who an outbound callee is in the room (identity, name, the standard `sip.*` attributes)
//! and the first fields of the call's record.

use std::collections::HashMap;

use livekit_protocol::{SipCallDirection, SipCallInfo, SipUri as ProtoSipUri};

use sipbridge_signaling::outcome::CallStatus;

use super::Plan;
use crate::cdr::{new_call_id, now_ns};
use crate::room::{Identity, attributes};

/// The record's fields known before dialling.
pub(super) fn call_info(plan: &Plan, sip_call_id: &str) -> SipCallInfo {
    let uri = |user: &str| ProtoSipUri {
        user: user.to_owned(),
        host: plan.trunk.host.clone(),
        port: u32::from(plan.trunk.port),
        ..ProtoSipUri::default()
    };
    SipCallInfo {
        call_id: plan.call_id.clone().unwrap_or_else(new_call_id),
        sip_call_id: sip_call_id.to_owned(),
        trunk_id: plan.trunk.id.clone(),
        room_name: plan.room.clone(),
        participant_identity: plan.identity.clone(),
        from_uri: Some(uri(&plan.from_number)),
        to_uri: Some(uri(&plan.to_number)),
        created_at_ns: now_ns(),
        call_direction: SipCallDirection::ScdOutbound as i32,
        ..SipCallInfo::default()
    }
}

/// The participant that joins while the phone is dialled: `sip.callStatus=dialing` and the
/// standard attributes (numbers left out with `hide_phone_number`), over the request's own.
pub(super) fn participant(plan: &Plan, call_id: &str, sip_call_id: &str) -> Identity {
    let mut attributes: HashMap<String, String> = plan.attributes.clone();
    let mut standard = vec![
        (attributes::CALL_ID, call_id.to_owned()),
        (attributes::CALL_ID_FULL, sip_call_id.to_owned()),
        (
            attributes::CALL_STATUS,
            CallStatus::Dialing.attribute_value().to_owned(),
        ),
        (attributes::TRUNK_ID, plan.trunk.id.clone()),
        (attributes::HOSTNAME, plan.trunk.host.clone()),
        (attributes::ROOM, plan.room.clone()),
    ];
    if !plan.hide_phone_number {
        standard.push((attributes::PHONE_NUMBER, plan.to_number.clone()));
        standard.push((attributes::TRUNK_PHONE_NUMBER, plan.from_number.clone()));
    }
    for (name, value) in standard {
        attributes.insert(name.to_owned(), value);
    }
    Identity {
        identity: plan.identity.clone(),
        name: plan.name.clone(),
        metadata: plan.metadata.clone(),
        attributes,
        room_config: None,
    }
}
