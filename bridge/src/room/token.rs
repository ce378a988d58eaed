//! The join token the bridge mints for each call's participant.

use std::collections::HashMap;
use std::time::Duration;

use livekit_api::access_token::{AccessToken, AccessTokenError, VideoGrants};

/// Who joins, and how the room sees them.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub identity: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    /// The room the dispatch rule asks for (agents to dispatch, timeouts), for
    /// livekit-server to create it with when this participant is its first.
    pub room_config: Option<livekit_protocol::RoomConfiguration>,
}

/// A token that lasts the call: the signal connection re-validates it on resume, and the
/// server refreshes it over the signal channel while the participant is connected.
const TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);

/// A join token for `room` with what a phone participant needs: publish its audio, hear the
/// room, exchange DTMF and data, and update its own `sip.*` attributes as the call progresses.
pub(super) fn join_token(
    api_key: &str,
    api_secret: &str,
    room: &str,
    who: &Identity,
) -> Result<String, AccessTokenError> {
    let grants = VideoGrants {
        room_join: true,
        room: room.to_owned(),
        can_publish: Some(true),
        can_subscribe: Some(true),
        can_publish_data: Some(true),
        can_update_own_metadata: Some(true),
        ..Default::default()
    };
    let token = AccessToken::with_api_key(api_key, api_secret);
    let token = match &who.room_config {
        Some(config) => token.with_room_config(config.clone()),
        None => token,
    };
    token
        .with_ttl(TOKEN_TTL)
        .with_identity(&who.identity)
        .with_name(&who.name)
        .with_metadata(&who.metadata)
        .with_attributes(who.attributes.clone())
        // The server shows the participant as a phone caller (ParticipantInfo.Kind SIP).
        .with_kind("sip")
        .with_grants(grants)
        .to_jwt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_api::access_token::Claims;

    #[test]
    fn the_token_carries_the_grants_a_phone_participant_needs() {
        let who = Identity {
            identity: "sip_+15550100".into(),
            name: "Caller".into(),
            metadata: "{}".into(),
            attributes: HashMap::from([("sip.callID".into(), "abc".into())]),
            room_config: None,
        };
        let jwt = join_token("key", "a-secret-of-at-least-32-bytes-long!!", "r1", &who).unwrap();
        let claims = Claims::from_unverified(&jwt).unwrap();
        assert_eq!(claims.sub, "sip_+15550100");
        assert_eq!(claims.kind, "sip");
        assert_eq!(claims.attributes["sip.callID"], "abc");
        let v = claims.video;
        assert!(v.room_join && v.room == "r1");
        assert!(v.can_publish() && v.can_subscribe() && v.can_publish_data());
        assert!(v.can_update_own_metadata());
        assert_eq!(claims.room_config, None);
    }

    /// A dispatch rule's room configuration reaches livekit-server in the token, which
    /// is how an agent named on the rule gets dispatched into the caller's room.
    #[test]
    fn the_rules_room_configuration_rides_in_the_token() {
        let agents = vec![livekit_protocol::RoomAgentDispatch {
            agent_name: "receptionist".into(),
            metadata: "{\"lang\":\"en\"}".into(),
            ..Default::default()
        }];
        let config = livekit_protocol::RoomConfiguration {
            agents,
            empty_timeout: 60,
            ..Default::default()
        };
        let who = Identity {
            identity: "sip_1".into(),
            room_config: Some(config.clone()),
            ..Identity::default()
        };
        let jwt = join_token("key", "a-secret-of-at-least-32-bytes-long!!", "r1", &who).unwrap();
        let claims = Claims::from_unverified(&jwt).unwrap();
        assert_eq!(claims.room_config, Some(config));
    }
}
