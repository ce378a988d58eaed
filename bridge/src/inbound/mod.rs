//! Inbound calls: from an INVITE to a caller in a LiveKit room.

pub mod admit;
mod call;
mod identity;
mod pin;
pub mod routing;

use std::sync::Arc;

use crate::call::context::{CallContext, InProgress};
use crate::sip::endpoint::CallStarter;
pub use crate::sip::local::LocalAddresses;

/// Starts a task per new INVITE.
pub fn call_starter(context: Arc<CallContext>) -> CallStarter {
    Box::new(move |new_call| {
        let running = InProgress::new(context.clone());
        let context = context.clone();
        tokio::spawn(async move {
            call::run(context, new_call).await;
            drop(running);
        });
    })
}
