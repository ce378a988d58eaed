//! The call's progress as room members read it in the participant's `sip.callStatus`
//! attribute, with the values LiveKit's own SIP service uses, so agents written for it read
//! ours unchanged.

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// We placed the call and sent the INVITE; nothing has come back yet.
    Dialing,
    /// The phone rings (a provisional response above 100 arrived).
    Ringing,
    /// The call is answered and audio flows.
    Active,
    /// The call is over (set just before the participant leaves, with the outcome).
    Hangup,
}

impl CallStatus {
    /// The attribute's value.
    pub const fn attribute_value(self) -> &'static str {
        match self {
            Self::Dialing => "dialing",
            Self::Ringing => "ringing",
            Self::Active => "active",
            Self::Hangup => "hangup",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_livekits() {
        let values = [
            CallStatus::Dialing,
            CallStatus::Ringing,
            CallStatus::Active,
            CallStatus::Hangup,
        ]
        .map(CallStatus::attribute_value);
        assert_eq!(values, ["dialing", "ringing", "active", "hangup"]);
    }
}
