//! The bridge's errors.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener from the config could not be bound; `key` is the config key it came from.
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        key: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    #[error("logging: {0}")]
    Logging(String),
    /// Cluster mode: the Redis of `redis:` could not be reached at start-up.
    #[error("redis ({address}): {source}")]
    Redis {
        address: String,
        #[source]
        source: sipbridge_psrpc::bus::BusError,
    },
}
