//! The end-to-end test harness: the test bed that `tests/bed/up` starts (real livekit-server,
//! Redis and bridge on 127.0.0.1), and room members played by the official LiveKit Python SDK.
//!
//! Phones are played by SIPp ([`sipp`]), and so are the carriers the bridge calls
//! ([`sipp_uas`]), either of them taking the bridge's REFER when the call is transferred
//! ([`sipp_transfer`]); outbound calls are placed and calls transferred through the official
//! SDKs ([`api`]); what the bridge reports is read back with [`observe`]. Cluster tests run
//! a node as a process of its own to kill it ([`node_process`]) and Kamailio as the inbound
//! load balancer in front of nodes ([`kamailio`]). Tests get the bed with [`Bed::get`].
//! Outside CI a test without a bed is skipped with a printed reason; with `CI=true` it fails,
//! because CI must run everything.

#![allow(clippy::unwrap_used)] // test support: a failed expectation should panic

pub mod api;
mod bed;
mod cluster_restart;
pub mod kamailio;
mod member;
pub mod node_process;
pub mod observe;
mod own_bridge;
mod own_cluster;
mod own_livekit;
pub mod sipp;
pub mod sipp_transfer;
pub mod sipp_uas;
mod tcp_proxy;

pub use bed::Bed;
pub use member::{Event, RoomMember};
pub use own_bridge::OwnBridge;
pub use own_cluster::{
    OwnCluster, OwnRedis, agent_dispatches, agent_dispatches_within, store, store_through,
    store_with,
};
pub use own_livekit::OwnLiveKit;
pub use tcp_proxy::TcpProxy;
