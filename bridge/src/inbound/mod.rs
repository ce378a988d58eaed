//! Inbound calls: from an INVITE to a caller in a LiveKit room.

pub mod admit;
mod call;
mod identity;
mod pin;
mod prepare;
mod remote_pin;
pub mod routes;
pub mod routing;
mod setup;

use std::sync::Arc;

use tracing::Instrument;

use crate::call::context::{CallContext, InProgress};
use crate::sip::endpoint::CallStarter;
pub use crate::sip::local::LocalAddresses;

/// Starts a task per new INVITE.
pub fn call_starter(context: Arc<CallContext>) -> CallStarter {
    Box::new(move |new_call| {
        let running = InProgress::new(context.clone());
        let context = context.clone();
        // Every log line of the call carries its ids (`call` once the record has one).
        let span = tracing::info_span!(
            "call",
            direction = "inbound",
            call = tracing::field::Empty,
            sip_call_id = %new_call.invite.head.call_id,
        );
        let call = async move {
            call::run(context, new_call).await;
            drop(running);
        };
        tokio::spawn(call.instrument(span));
    })
}
