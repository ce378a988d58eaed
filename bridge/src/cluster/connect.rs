//! Joining the cluster's Redis at start-up (cluster mode only).

use std::sync::Arc;

use sipbridge_config::{Config, Mode, Redis};
use sipbridge_psrpc::bus::{Bus, BusError, RedisSettings, SentinelSettings, TlsSettings};
use sipbridge_psrpc::server::Serving;

use super::Node;
use crate::Error;
use crate::call::context::CallContext;

/// This bridge's node, in cluster mode; `None` standalone. A Redis that cannot be reached
/// fails the start (a supervisor restarts it), rather than a node that looks up but can
/// take no call.
pub async fn join(config: &Config) -> Result<Option<Node>, Error> {
    let (Mode::Cluster, Some(redis)) = (config.mode, &config.redis) else {
        return Ok(None);
    };
    let bus = Bus::connect_with(&settings(redis))
        .await
        .map_err(|source| redis_error(config, source))?;
    let node = Node::join(bus)
        .await
        .map_err(|source| redis_error(config, source))?;
    tracing::info!(redis = %describe(redis), "joined the LiveKit cluster");
    Ok(Some(node))
}

/// Takes livekit-server's CreateSIPParticipant requests for `calls` (cluster mode) until
/// the returned [`Serving`] is dropped.
pub async fn serve_calls(
    config: &Config,
    calls: &Arc<CallContext>,
) -> Result<Option<Serving>, Error> {
    let Some(node) = &calls.cluster else {
        return Ok(None);
    };
    let serving = node
        .serve_calls(Arc::downgrade(calls))
        .await
        .map_err(|source| redis_error(config, source))?;
    Ok(Some(serving))
}

/// A Redis failure, naming where it was.
fn redis_error(config: &Config, source: BusError) -> Error {
    let address = config.redis.as_ref().map(describe).unwrap_or_default();
    Error::Redis { address, source }
}

/// Where the Redis is, for logs (never the password).
fn describe(redis: &Redis) -> String {
    match (&redis.sentinel, &redis.address) {
        (Some(sentinel), _) => format!(
            "sentinel master {} via {}",
            sentinel.master_name,
            sentinel.addresses.join(",")
        ),
        (None, Some(address)) => address.clone(),
        (None, None) => String::new(),
    }
}

/// The psrpc bus's settings from the `redis:` block.
fn settings(redis: &Redis) -> RedisSettings {
    let secret = |secret: &Option<sipbridge_config::values::Secret>| {
        secret.as_ref().map(|s| s.expose().to_owned())
    };
    RedisSettings {
        address: redis.address.clone(),
        username: redis.username.clone(),
        password: secret(&redis.password),
        db: redis.db,
        tls: redis.tls.as_ref().map(|tls| TlsSettings {
            ca_cert_file: tls.ca_cert_file.clone().map(Into::into),
            client_cert_file: tls.client_cert_file.clone().map(Into::into),
            client_key_file: tls.client_key_file.clone().map(Into::into),
            insecure: tls.insecure,
        }),
        sentinel: redis.sentinel.as_ref().map(|sentinel| SentinelSettings {
            master_name: sentinel.master_name.clone(),
            addresses: sentinel.addresses.clone(),
            username: sentinel.username.clone(),
            password: secret(&sentinel.password),
        }),
    }
}
