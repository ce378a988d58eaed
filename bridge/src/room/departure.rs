//! How a participant's call ended, as room members see it (docs/OUTCOMES.md, the room's two ways).

use std::collections::HashMap;

use livekit_protocol::DisconnectReason;
use sipbridge_signaling::outcome::CallStatus;

use super::attributes;

/// The outcome handed to [`super::RoomHandle::leave`]: the reason goes into the signal
/// `LeaveRequest`, and all of it into the departure attributes set just before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    pub reason: DisconnectReason,
    pub status_code: u16,
    pub status_reason: String,
}

impl Departure {
    /// The attributes every room member sees on the participant's way out, whatever the
    /// server version does with the leave reason.
    pub fn attributes(&self) -> HashMap<String, String> {
        let mut attributes = attributes::call_status(CallStatus::Hangup);
        let outcome = [
            (
                attributes::DISCONNECT_REASON,
                self.reason.as_str_name().to_owned(),
            ),
            (attributes::STATUS_CODE, self.status_code.to_string()),
            (attributes::STATUS_REASON, self.status_reason.clone()),
        ];
        for (key, value) in outcome {
            attributes.insert(key.to_owned(), value);
        }
        attributes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_name_the_reason_and_status() {
        let d = Departure {
            reason: DisconnectReason::UserRejected,
            status_code: 603,
            status_reason: "Decline".into(),
        };
        let a = d.attributes();
        assert_eq!(a["sip.callStatus"], "hangup");
        assert_eq!(a["sip.disconnectReason"], "USER_REJECTED");
        assert_eq!(a["sip.statusCode"], "603");
        assert_eq!(a["sip.statusReason"], "Decline");
    }
}
