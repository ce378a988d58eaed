//! Cluster mode: this bridge as a SIP node of a LiveKit deployment. livekit-server stores
//! the trunks and dispatch rules and reaches its SIP nodes over psrpc on Redis:
//! - inbound, every INVITE asks it where the call goes (`inbound::routes::cluster`);
//! - outbound, it hands us `SIPInternal.CreateSIPParticipant` ([`create`]), and for each
//!   answered call `SIPInternal.TransferSIPParticipant` on the call's id ([`transfer`]);
//! - every call's and transfer's record is reported back to it ([`state`]).
//!
//! The calls themselves run the same code as in standalone mode: only where the trunks and
//! rules come from and who asks for calls differ.

mod connect;
mod create;
mod errors;
mod state;
mod transfer;

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use sipbridge_psrpc::bus::{Bus, BusError};
use sipbridge_psrpc::client::Client;
use sipbridge_psrpc::io::IO_INFO;
use sipbridge_psrpc::server::{Accepting, Server, Serving};

use crate::call::context::CallContext;
pub use connect::{join, serve_calls};
pub use transfer::CallTopic;

/// livekit-server gives up on a request at its expiry; our answer must be there before
/// then, so what a request starts ends this much earlier (a transfer's ringing timeout is the
/// very time livekit-server waits).
const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// How long a request received now may run: until `deadline` less [`ANSWER_MARGIN`].
fn time_to_answer(deadline: SystemTime) -> Duration {
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(ANSWER_MARGIN)
}

/// A duration livekit-server sent (a rule's or a request's); none when unset, zero or
/// negative.
pub(crate) fn duration(value: Option<prost_types::Duration>) -> Option<Duration> {
    value
        .and_then(|value| Duration::try_from(value).ok())
        .filter(|value| !value.is_zero())
}

/// This node on the bus.
#[derive(Debug, Clone)]
pub struct Node {
    server: Server,
    io_info: Client,
}

impl Node {
    /// Joins the bus: a client for livekit-server's `IOInfo`, and a server identity for
    /// what livekit-server asks of us.
    pub async fn join(bus: Bus) -> Result<Self, BusError> {
        let io_info = Client::new(bus.clone(), IO_INFO).await?;
        Ok(Self {
            server: Server::new(bus),
            io_info,
        })
    }

    /// The `IOInfo` client, for inbound routing.
    pub fn io_info(&self) -> Client {
        self.io_info.clone()
    }

    /// Tells livekit-server of every call and transfer record written
    /// (`IOInfo.UpdateSIPCallState`).
    pub fn call_state_reporter(&self) -> crate::cdr::Report {
        state::reporter(self.io_info.clone())
    }

    /// Takes CreateSIPParticipant requests while the node accepts calls (not draining, not
    /// over its `limits:`), until the returned [`Serving`] is dropped: then the node takes
    /// no new call, which is how draining deregisters it.
    pub async fn serve_calls(&self, calls: Weak<CallContext>) -> Result<Serving, BusError> {
        let accepting: Accepting = {
            let calls = calls.clone();
            Arc::new(move || calls.upgrade().is_some_and(|calls| calls.accepts_calls()))
        };
        create::serve(&self.server, calls, accepting).await
    }

    /// Takes TransferSIPParticipant for the answered call `call_id` (its participant
    /// `identity` in `room`) until the returned topic is dropped.
    pub fn serve_transfers(
        &self,
        calls: &CallContext,
        call_id: &str,
        room: &str,
        identity: &str,
    ) -> CallTopic {
        transfer::serve(
            &self.server,
            calls.directory.clone(),
            call_id,
            room,
            identity,
        )
    }
}
