//! Whether an inbound INVITE may become a call, and where it goes: trunk, digest auth,
//! dispatch rule (docs/OUTCOMES.md, "Inbound INVITE refused").

use std::sync::Mutex;
use std::time::SystemTime;

use sipbridge_signaling::auth::{Challenger, Rejection as AuthRejection};
use sipbridge_signaling::message::Request;
use sipbridge_signaling::outcome::InboundRejection;

use super::routes::{CallFacts, Dispatched, Routes, TrunkMatch};

/// A call that may go ahead: its trunk, and what the dispatch rules say.
#[derive(Debug)]
pub struct Admitted {
    pub trunk: TrunkMatch,
    pub dispatched: Dispatched,
}

/// How to answer an INVITE that may not go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 407 with these `Proxy-Authenticate` challenges: a step of the attempt, not its end
    /// (the caller answers it with a new INVITE), so no record.
    Challenge(Vec<String>),
    /// The attempt ends here, with this rejection's status.
    Rejected {
        rejection: InboundRejection,
        /// No answer at all (`sip.hide_inbound_port` and an address no trunk allows, or
        /// livekit-server saying "drop").
        silent: bool,
        /// For the log and the record: what exactly failed (never sent to the peer).
        detail: String,
    },
    /// Nobody could say where the call goes (cluster mode: livekit-server unreachable).
    Unavailable { detail: String },
}

impl Refusal {
    fn rejected(rejection: InboundRejection, detail: impl Into<String>) -> Self {
        Self::Rejected {
            rejection,
            silent: false,
            detail: detail.into(),
        }
    }
}

/// Trunk, then credentials, then dispatch rule.
pub async fn admit(
    routes: &dyn Routes,
    challenger: &Mutex<Challenger>,
    invite: &Request,
    call: &CallFacts,
    now: SystemTime,
) -> Result<Admitted, Refusal> {
    let trunk = routes.trunk(call).await?;
    admit_on(trunk, routes, challenger, invite, call, now).await
}

/// Credentials, then dispatch rule, for a call on `trunk`.
pub async fn admit_on(
    trunk: TrunkMatch,
    routes: &dyn Routes,
    challenger: &Mutex<Challenger>,
    invite: &Request,
    call: &CallFacts,
    now: SystemTime,
) -> Result<Admitted, Refusal> {
    if let Some(credentials) = &trunk.credentials {
        check_credentials(&trunk, credentials, challenger, invite, now)?;
    }
    let dispatched = routes.dispatch(call, &trunk, None).await?;
    Ok(Admitted { trunk, dispatched })
}

/// Digest auth (RFC 7616) against the trunk's credentials: a 407 challenge when none (or
/// stale ones) came, a refusal for wrong or malformed ones.
fn check_credentials(
    trunk: &TrunkMatch,
    (username, password): &(String, String),
    challenger: &Mutex<Challenger>,
    invite: &Request,
    now: SystemTime,
) -> Result<(), Refusal> {
    let mut challenger = challenger
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let presented = invite.head.other.get("Proxy-Authorization");
    let verdict = match presented {
        None => Err(AuthRejection::Challenge { stale: false }),
        Some(value) => challenger
            .verify(
                now,
                invite.method.as_str(),
                &invite.uri.to_string(),
                value,
                username,
                password,
            )
            .map_err(|error| {
                error.auth_rejection().unwrap_or(AuthRejection::Forbidden {
                    reason: "Forbidden",
                })
            }),
    };
    match verdict {
        Ok(()) => {}
        Err(AuthRejection::Challenge { stale }) => {
            let challenges = challenger.challenge_with(now, stale, &trunk.algorithms);
            return Err(Refusal::Challenge(challenges.into_iter().collect()));
        }
        Err(AuthRejection::Forbidden { reason }) => {
            let rejection = InboundRejection::AuthFailed {
                malformed: false,
                reason,
            };
            return Err(Refusal::rejected(rejection, "credentials"));
        }
        Err(AuthRejection::BadRequest { reason }) => {
            let rejection = InboundRejection::AuthFailed {
                malformed: true,
                reason,
            };
            return Err(Refusal::rejected(rejection, "malformed credentials"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "admit_tests.rs"]
mod tests;
