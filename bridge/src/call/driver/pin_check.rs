//! A PIN livekit-server checks (cluster mode): the driver sends the caller's keys and waits
//! for the verdict beside the call's other inputs; the right PIN also says where the caller
//! goes, which the driver takes for the join.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Driver;
use crate::call::machine::Input;
use crate::room::JoinRequest;

/// The verdict on the keys.
#[derive(Debug)]
pub enum PinVerdict {
    Right(Box<PinPass>),
    Wrong,
    /// Nobody could say (livekit-server unreachable).
    Unavailable(String),
}

/// Where the right PIN sends the caller.
#[derive(Debug)]
pub struct PinPass {
    pub join: JoinRequest,
    pub trunk_id: String,
    pub rule_id: String,
    pub max_call_duration: Option<Duration>,
}

pub type PinChecking = Pin<Box<dyn Future<Output = PinVerdict> + Send>>;

/// Checks the keys a caller entered as a PIN.
pub trait PinChecker: Send + Sync {
    fn check(&self, keys: String) -> PinChecking;
}

impl Driver {
    /// The verdict for the machine; with the right PIN, the caller's room for the join.
    pub(super) fn pin_verdict(&mut self, verdict: PinVerdict) -> Input {
        let pass = match verdict {
            PinVerdict::Right(pass) => *pass,
            PinVerdict::Wrong => return Input::PinChecked(Ok(false)),
            PinVerdict::Unavailable(detail) => return Input::PinChecked(Err(detail)),
        };
        let PinPass {
            join,
            trunk_id,
            rule_id,
            max_call_duration,
        } = pass;
        self.room_name.clone_from(&join.room);
        self.record.update(|info| {
            info.room_name.clone_from(&join.room);
            info.participant_identity.clone_from(&join.who.identity);
            info.trunk_id = trunk_id;
            info.dispatch_rule_id = rule_id;
        });
        self.max_duration = max_call_duration;
        self.join_request = Some(join);
        Input::PinChecked(Ok(true))
    }
}

pub(super) async fn until_checked(checking: &mut Option<PinChecking>) -> PinVerdict {
    match checking {
        Some(checking) => checking.await,
        None => std::future::pending().await,
    }
}
