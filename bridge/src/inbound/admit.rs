//! Whether an inbound INVITE may become a call, and where it goes: trunk, digest auth,
//! dispatch rule (docs/OUTCOMES.md, "Inbound INVITE refused").

use std::sync::Mutex;
use std::time::SystemTime;

use sipbridge_config::{Config, DigestAlgorithm, DispatchRule, InboundTrunk};
use sipbridge_signaling::auth::{Algorithm, Challenger, Rejection as AuthRejection};
use sipbridge_signaling::message::{Request, Uri};
use sipbridge_signaling::outcome::InboundRejection;

use super::routing::{CallAddress, NoTrunk, match_rule, match_trunk};

/// A call that may go ahead.
#[derive(Debug)]
pub struct Admitted<'c> {
    pub trunk: &'c InboundTrunk,
    pub rule: &'c DispatchRule,
    pub caller: String,
    pub called: String,
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
        /// No answer at all (`sip.hide_inbound_port` and an address no trunk allows).
        silent: bool,
        /// For the log and the record: what exactly failed (never sent to the peer).
        detail: String,
    },
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

/// The user part of a URI: the phone number, usually; empty if there is none.
pub fn number_of(uri: &Uri) -> String {
    uri.user().unwrap_or_default().to_owned()
}

/// Trunk, then credentials, then dispatch rule.
pub fn admit<'c>(
    config: &'c Config,
    challenger: &Mutex<Challenger>,
    invite: &Request,
    source: std::net::IpAddr,
    now: SystemTime,
) -> Result<Admitted<'c>, Refusal> {
    let caller = number_of(&invite.head.from.uri);
    let called = match invite.uri.user() {
        Some(user) => user.to_owned(),
        None => number_of(&invite.head.to.uri),
    };
    let address = CallAddress {
        source,
        called: &called,
        caller: &caller,
    };
    let trunk = match match_trunk(config, address) {
        Ok(trunk) => trunk,
        Err(why) => {
            return Err(Refusal::Rejected {
                rejection: InboundRejection::TrunkNotAllowed,
                silent: why == NoTrunk::AddressNotAllowed && config.sip.hide_inbound_port,
                detail: format!("{why:?}"),
            });
        }
    };
    if let Some(credentials) = &trunk.auth {
        check_credentials(trunk, credentials, challenger, invite, now)?;
    }
    let Some(rule) = match_rule(config, trunk) else {
        let detail = format!("no dispatch rule for trunk {}", trunk.id.as_str());
        return Err(Refusal::rejected(InboundRejection::NoDispatchRule, detail));
    };
    Ok(Admitted {
        trunk,
        rule,
        caller,
        called,
    })
}

/// Digest auth (RFC 7616) against the trunk's credentials: a 407 challenge when none (or
/// stale ones) came, a refusal for wrong or malformed ones.
fn check_credentials(
    trunk: &InboundTrunk,
    credentials: &sipbridge_config::Credentials,
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
                &credentials.username,
                credentials.password.expose(),
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
            let algorithms: Vec<Algorithm> = trunk
                .auth_algorithms
                .iter()
                .map(|algorithm| match algorithm {
                    DigestAlgorithm::Sha256 => Algorithm::Sha256,
                    DigestAlgorithm::Md5 => Algorithm::Md5,
                })
                .collect();
            let challenges = challenger.challenge_with(now, stale, &algorithms);
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
