//! CreateSIPParticipant fields the bridge does not carry out yet. A field set to anything but
//! its default is refused with `invalid_argument` naming it: a caller who asked for noise
//! cancellation, a custom Request-URI or encrypted media must learn that the call would not
//! have it, rather than get a call without it.

use livekit_protocol::{CreateSipParticipantRequest, SipMediaConfig, SipMediaEncryption};

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
    let trunk = request.trunk.clone().unwrap_or_default();
    // Deprecated for `media.encryption`, and still what the SDKs send.
    #[allow(deprecated)]
    let encryption = request.media_encryption;
    let set = [
        ("sip_request_uri", request.sip_request_uri.is_some()),
        ("sip_from_header", request.sip_from_header.is_some()),
        ("sip_to_header", request.sip_to_header.is_some()),
        ("to_user_override", !request.to_user_override.is_empty()),
        ("krisp_enabled", request.krisp_enabled),
        (
            "media_encryption",
            // Plain RTP is what "disable" asks and what "allow" accepts.
            encryption == SipMediaEncryption::SipMediaEncryptRequire as i32,
        ),
        ("destination", request.destination.is_some()),
        (
            "trunk.destination_country",
            !trunk.destination_country.is_empty(),
        ),
        (
            "trunk.attributes_to_headers",
            !trunk.attributes_to_headers.is_empty(),
        ),
        ("trunk.from_host", !trunk.from_host.is_empty()),
    ];
    set.into_iter()
        .find(|(_, set)| *set)
        .map(|(field, _)| field)
        .or_else(|| request.media.as_ref().and_then(unbuilt_media_field))
}

/// The call's codecs and media timeout come from the YAML's `rtp:` for every call; only the
/// encryption plain RTP satisfies passes.
fn unbuilt_media_field(media: &SipMediaConfig) -> Option<&'static str> {
    let require = SipMediaEncryption::SipMediaEncryptRequire as i32;
    if !media.codecs.is_empty() || media.only_listed_codecs {
        Some("media.codecs")
    } else if media.encryption == Some(require) {
        Some("media.encryption")
    } else if media.media_timeout.is_some() {
        Some("media.media_timeout")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use livekit_protocol::{Destination, SipNamedDest, SipOutboundConfig};

    use super::*;

    fn refused(request: &CreateSipParticipantRequest) -> Option<&'static str> {
        unbuilt_field(request)
    }

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
        assert_eq!(refused(&plain), None);
        assert!(refuse_unbuilt(&plain).is_ok());

        let with = |change: &dyn Fn(&mut CreateSipParticipantRequest)| {
            let mut request = plain.clone();
            change(&mut request);
            refused(&request)
        };
        assert_eq!(with(&|r| r.krisp_enabled = true), Some("krisp_enabled"));
        assert_eq!(
            with(&|r| r.to_user_override = "alice".into()),
            Some("to_user_override")
        );
        assert_eq!(
            with(&|r| r.sip_to_header = Some(SipNamedDest::default())),
            Some("sip_to_header")
        );
        assert_eq!(
            with(&|r| r.destination = Some(Destination::default())),
            Some("destination")
        );
        assert_eq!(
            with(&|r| {
                r.media_encryption = SipMediaEncryption::SipMediaEncryptRequire as i32;
            }),
            Some("media_encryption")
        );
        assert_eq!(
            with(&|r| {
                if let Some(trunk) = r.trunk.as_mut() {
                    trunk.from_host = "pbx.example".into();
                }
            }),
            Some("trunk.from_host")
        );
        assert_eq!(
            with(&|r| r.media = Some(SipMediaConfig {
                only_listed_codecs: true,
                ..SipMediaConfig::default()
            })),
            Some("media.codecs")
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
