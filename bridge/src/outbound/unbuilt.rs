//! CreateSIPParticipant fields the bridge does not carry out yet. A field set to anything but
//! its default is refused with `invalid_argument` naming it: a caller who asked for noise
//! cancellation or encrypted media must learn that the call would not have it, rather than get
//! a call without it.

use livekit_protocol::{CreateSipParticipantRequest, SipMediaEncryption};

use super::CreateError;

/// Refuses the first field of `request` set to something the bridge would not do.
pub(super) fn refuse_unbuilt(request: &CreateSipParticipantRequest) -> Result<(), CreateError> {
    match unbuilt_field(request) {
        None => Ok(()),
        Some(field) => Err(CreateError::Invalid(format!(
            "{field}: not supported by sipbridge"
        ))),
    }
}

fn unbuilt_field(request: &CreateSipParticipantRequest) -> Option<&'static str> {
    // Deprecated for `media.encryption`, and still what the SDKs send.
    #[allow(deprecated)]
    let encryption = request.media_encryption;
    let set = [
        ("krisp_enabled", request.krisp_enabled),
        (
            "media_encryption",
            // Plain RTP is what "disable" asks and what "allow" accepts.
            encryption == SipMediaEncryption::SipMediaEncryptRequire as i32,
        ),
    ];
    let require = Some(SipMediaEncryption::SipMediaEncryptRequire as i32);
    let media_encryption = request.media.as_ref().map(|media| media.encryption);
    set.into_iter()
        .find(|(_, set)| *set)
        .map(|(field, _)| field)
        .or_else(|| (media_encryption == Some(require)).then_some("media.encryption"))
}

#[cfg(test)]
mod tests {
    use livekit_protocol::{Destination, SipMediaConfig, SipNamedDest, SipOutboundConfig};

    use super::*;

    #[test]
    #[allow(deprecated)] // media_encryption, which the SDKs still send
    fn a_plain_request_passes_and_each_unbuilt_field_is_named() {
        let plain = CreateSipParticipantRequest {
            sip_call_to: "+15550100".into(),
            room_name: "room".into(),
            trunk: Some(SipOutboundConfig {
                hostname: "carrier.example".into(),
                ..SipOutboundConfig::default()
            }),
            media_encryption: SipMediaEncryption::SipMediaEncryptAllow as i32,
            media: Some(SipMediaConfig::default()),
            ..CreateSipParticipantRequest::default()
        };
        assert_eq!(unbuilt_field(&plain), None);
        assert!(refuse_unbuilt(&plain).is_ok());

        let with = |change: &dyn Fn(&mut CreateSipParticipantRequest)| {
            let mut request = plain.clone();
            change(&mut request);
            unbuilt_field(&request)
        };
        assert_eq!(with(&|r| r.krisp_enabled = true), Some("krisp_enabled"));
        assert_eq!(
            with(&|r| {
                r.media_encryption = SipMediaEncryption::SipMediaEncryptRequire as i32;
            }),
            Some("media_encryption")
        );
        assert_eq!(
            with(&|r| r.media = Some(SipMediaConfig {
                encryption: Some(SipMediaEncryption::SipMediaEncryptRequire as i32),
                ..SipMediaConfig::default()
            })),
            Some("media.encryption")
        );
        // Built now (outbound::overrides), or routing hints a node has no use for.
        assert_eq!(with(&|r| r.to_user_override = "alice".into()), None);
        assert_eq!(
            with(&|r| r.sip_to_header = Some(SipNamedDest::default())),
            None
        );
        assert_eq!(
            with(&|r| r.destination = Some(Destination::default())),
            None
        );
        let Err(CreateError::Invalid(message)) = refuse_unbuilt(&CreateSipParticipantRequest {
            krisp_enabled: true,
            ..plain
        }) else {
            panic!("krisp_enabled passed");
        };
        assert_eq!(message, "krisp_enabled: not supported by sipbridge");
    }
}
