//! The participant attributes a SIP participant carries, with the keys LiveKit's own SIP
//! service uses (so agents written for it read ours unchanged).

use std::collections::HashMap;

use livekit_protocol::SipHeaderOptions;
use sipbridge_signaling::outcome::CallStatus;

/// Our id of the call (`SCL_…`), as in the record and the API's `sip_call_id`.
pub const CALL_ID: &str = "sip.callID";
/// The SIP Call-ID.
pub const CALL_ID_FULL: &str = "sip.callIDFull";
/// [`CallStatus`]: dialing, ringing, active, hangup.
pub const CALL_STATUS: &str = "sip.callStatus";
pub const TRUNK_ID: &str = "sip.trunkID";
pub const RULE_ID: &str = "sip.ruleID";
/// The phone's number (the caller inbound, the called number outbound).
pub const PHONE_NUMBER: &str = "sip.phoneNumber";
/// Our number on the trunk.
pub const TRUNK_PHONE_NUMBER: &str = "sip.trunkPhoneNumber";
pub const HOSTNAME: &str = "sip.hostname";
pub const ROOM: &str = "sip.room";
/// The outcome, set just before the participant leaves (docs/OUTCOMES.md).
pub const DISCONNECT_REASON: &str = "sip.disconnectReason";
pub const STATUS_CODE: &str = "sip.statusCode";
pub const STATUS_REASON: &str = "sip.statusReason";
/// Followed by a SIP header's lower-case name (`include_headers`).
pub const HEADER_PREFIX: &str = "sip.h.";

/// The attribute change that announces `status`.
pub fn call_status(status: CallStatus) -> HashMap<String, String> {
    HashMap::from([(CALL_STATUS.to_owned(), status.attribute_value().to_owned())])
}

/// The `sip.h.<name>` attributes that `include_headers` asks for, from a message's
/// `headers`: none, the `X-` ones, or all.
pub fn included_headers<'a>(
    include_headers: SipHeaderOptions,
    headers: impl Iterator<Item = (&'a str, &'a str)> + 'a,
) -> impl Iterator<Item = (String, String)> + 'a {
    let wanted = move |name: &str| match include_headers {
        SipHeaderOptions::SipNoHeaders => false,
        SipHeaderOptions::SipXHeaders => name.len() > 2 && name[..2].eq_ignore_ascii_case("x-"),
        SipHeaderOptions::SipAllHeaders => true,
    };
    headers
        .filter(move |(name, _)| wanted(name))
        .map(|(name, value)| {
            let key = format!("{HEADER_PREFIX}{}", name.to_ascii_lowercase());
            (key, value.to_owned())
        })
}
