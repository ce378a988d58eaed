//! Cluster mode: the PIN a caller keys goes to livekit-server, which dispatches the call
//! again with it; the right PIN comes back as the caller's room.

use std::sync::Arc;

use sipbridge_signaling::message::Request;

use super::admit::Refusal;
use super::identity::participant;
use super::routes::{CallFacts, Dispatched, Routes, TrunkMatch};
use crate::call::driver::{PinChecker, PinChecking, PinPass, PinVerdict};
use crate::room::JoinRequest;

/// What asking again takes.
#[derive(Debug, Clone)]
pub(super) struct RemotePin {
    pub(super) routes: Arc<dyn Routes>,
    pub(super) facts: CallFacts,
    pub(super) trunk: TrunkMatch,
    pub(super) invite: Request,
}

impl PinChecker for RemotePin {
    fn check(&self, keys: String) -> PinChecking {
        let this = self.clone();
        Box::pin(async move { this.verdict(&keys).await })
    }
}

impl RemotePin {
    async fn verdict(&self, keys: &str) -> PinVerdict {
        let dispatched = self
            .routes
            .dispatch(&self.facts, &self.trunk, Some(keys))
            .await;
        match dispatched {
            Ok(Dispatched::Route(route)) => {
                let call_id = self.facts.call_id.clone();
                let who = participant(&self.invite, &self.facts, &route, call_id);
                PinVerdict::Right(Box::new(PinPass {
                    join: JoinRequest {
                        room: route.room.clone(),
                        who,
                    },
                    trunk_id: route.trunk_id.clone(),
                    rule_id: route.rule_id.clone(),
                    max_call_duration: route.max_call_duration,
                }))
            }
            Err(Refusal::Unavailable { detail }) => PinVerdict::Unavailable(detail),
            // livekit-server matches no rule for a wrong PIN (or asks again).
            Ok(Dispatched::AskPin { .. }) | Err(_) => PinVerdict::Wrong,
        }
    }
}
