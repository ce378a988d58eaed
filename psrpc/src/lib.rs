//! psrpc on Redis: the RPC protocol livekit-server uses to hand SIP calls to its SIP nodes, as
//! livekit/psrpc v0.7.2 (the version livekit-server v1.13.5 requires) puts it on the wire.
//! livekit-server v1.13.11 (psrpc v0.8.2, which adds optional compression and claim
//! shortcuts) understands it too: `tests/tests/psrpc_livekit.rs` runs against both.
//!
//! Everything is Redis pub/sub. A call is four messages on four channels ([`channel`]):
//!
//! 1. the client publishes a [`message::Request`] on the method's request channel;
//! 2. every server subscribed there sees it; for a *queue* method (all the SIP ones) only the
//!    one that wins a Redis lock on the payload's hash handles it ([`queue_lock_key`]) and,
//!    if the request has not expired, bids for it with a [`message::ClaimRequest`] on the
//!    client's claim channel;
//! 3. the client takes the first bid (none within a second: `unavailable`) and publishes a
//!    [`message::ClaimResponse`] naming the winner on the method's claim-award channel;
//! 4. the winner runs the handler, with the request's `expiry` as its deadline, and publishes
//!    a [`message::Response`] on the client's response channel: the result's bytes, or an
//!    error code ([`Code`]) with a message and details (a `livekit.SIPStatus`, which
//!    livekit-server turns into the Twirp error the SDKs raise as `SipCallError`).
//!
//! Each message travels as a `google.protobuf.Any` of psrpc's `internal` package
//! ([`message::Envelope`]); the RPC's own request and response are plain protobuf bytes
//! inside. Times are wall-clock Unix nanoseconds, so nodes need synchronised clocks.
//!
//! [`bus`] is the Redis side, [`client`] and [`server`] the two ends of a call; [`sip`] and
//! [`io`] have the methods livekit-server and a SIP node call on each other, and the part of
//! their messages a node uses.
//!
//! The messages are written here by hand with `prost` derives rather than generated: they
//! are few and small, there is no protobuf compiler on the build machines, and psrpc's own
//! `.proto` files are not published as a crate.

pub mod bus;
pub mod channel;
pub mod client;
pub mod error;
pub mod id;
pub mod io;
pub mod message;
pub mod server;
pub mod sip;

pub use error::{Code, RpcError};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The Redis key a server must `SET … NX EX 5` to handle a queued message: base64 of the
/// payload's SHA-256. Whoever sets it first handles the message; the others skip it. A
/// server that would not serve the request must not take it, or nobody serves it.
pub fn queue_lock_key(payload: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(payload))
}

/// How long the queue lock lives, in seconds (it is never deleted).
pub const QUEUE_LOCK_SECONDS: u64 = 5;

#[cfg(test)]
mod tests {
    use super::queue_lock_key;

    /// The key psrpc set for one CreateSIPParticipant request is base64(sha256(payload)):
    /// checked here on a payload whose digest is known.
    #[test]
    fn the_lock_key_is_base64_of_the_payloads_sha256() {
        assert_eq!(
            queue_lock_key(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
