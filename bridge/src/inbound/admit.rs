//! Whether an inbound INVITE may become a call, and where it goes: trunk, digest auth,
//! dispatch rule (shared/OUTCOMES.md, "Inbound INVITE that never reaches a room").

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
pub struct Refusal {
    pub code: u16,
    pub reason: String,
    /// Extra headers (the 407's `Proxy-Authenticate` challenges).
    pub headers: Vec<(&'static str, String)>,
    /// The outcome to record; `None` for a 407 challenge, which is a step of a call attempt,
    /// not its end (the caller answers it with a new INVITE).
    pub outcome: Option<InboundRejection>,
    /// No answer at all (`sip.hide_inbound_port` and an address no trunk allows).
    pub silent: bool,
    /// For the log: what exactly failed (never sent to the peer).
    pub detail: String,
}

impl Refusal {
    fn new(code: u16, reason: &str, outcome: Option<InboundRejection>, detail: String) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            headers: Vec::new(),
            outcome,
            silent: false,
            detail,
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
            let mut refusal = Refusal::new(
                403,
                "Forbidden",
                Some(InboundRejection::TrunkNotAllowed),
                format!("{why:?}"),
            );
            refusal.silent = why == NoTrunk::AddressNotAllowed && config.sip.hide_inbound_port;
            return Err(refusal);
        }
    };
    if let Some(credentials) = &trunk.auth {
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
                let mut refusal = Refusal::new(
                    407,
                    "Proxy Authentication Required",
                    None,
                    "challenge".into(),
                );
                let algorithms: Vec<Algorithm> = trunk
                    .auth_algorithms
                    .iter()
                    .map(|algorithm| match algorithm {
                        DigestAlgorithm::Sha256 => Algorithm::Sha256,
                        DigestAlgorithm::Md5 => Algorithm::Md5,
                    })
                    .collect();
                for value in challenger.challenge_with(now, stale, &algorithms) {
                    refusal.headers.push(("Proxy-Authenticate", value));
                }
                return Err(refusal);
            }
            Err(AuthRejection::Forbidden { reason }) => {
                return Err(Refusal::new(
                    403,
                    reason,
                    Some(InboundRejection::AuthFailed),
                    "credentials".into(),
                ));
            }
            Err(AuthRejection::BadRequest { reason }) => {
                return Err(Refusal::new(
                    400,
                    reason,
                    Some(InboundRejection::AuthFailed),
                    "malformed credentials".into(),
                ));
            }
        }
    }
    let Some(rule) = match_rule(config, trunk) else {
        return Err(Refusal::new(
            404,
            "Not Found",
            Some(InboundRejection::NoDispatchRule),
            format!("no dispatch rule for trunk {}", trunk.id.as_str()),
        ));
    };
    Ok(Admitted {
        trunk,
        rule,
        caller,
        called,
    })
}
