//! The Redis to talk to, looked up again whenever a connection is made: one fixed server, or
//! whichever server the sentinels name master at that moment. And the connection for commands,
//! which behind sentinels follows the master through a failover.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::SentinelClient;
use redis::{Client, RedisError, RedisResult};

/// The longest a sentinel lookup may take (the sentinels are tried one after the other).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) enum Target {
    /// Boxed: a client is large, and a target is cloned into every connection's task.
    Direct(Box<Client>),
    /// Behind a lock because a lookup borrows the sentinel client mutably (it caches its
    /// connections to the sentinels).
    Sentinel(Arc<tokio::sync::Mutex<SentinelClient>>),
}

impl Target {
    /// A client for the master as of now.
    pub(super) async fn client(&self) -> RedisResult<Client> {
        match self {
            Target::Direct(client) => Ok(Client::clone(client)),
            Target::Sentinel(sentinels) => {
                let lookup = async { sentinels.lock().await.async_get_client().await };
                match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                    Ok(client) => client,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no sentinel named the master in time",
                    )
                    .into()),
                }
            }
        }
    }

    fn behind_sentinels(&self) -> bool {
        matches!(self, Target::Sentinel(_))
    }

    /// A command connection to the master as of now. Behind sentinels its own reconnecting
    /// gives up early: it can only reach the old address, and a command waiting through the
    /// default attempts (some 9 s) would wait for nothing while `Commands` looks the new
    /// master up.
    async fn connection_manager(&self) -> RedisResult<ConnectionManager> {
        let client = self.client().await?;
        let config = match self {
            Target::Direct(_) => ConnectionManagerConfig::new(),
            Target::Sentinel(_) => ConnectionManagerConfig::new().set_number_of_retries(1),
        };
        ConnectionManager::new_with_config(client, config).await
    }
}

/// The connection for PUBLISH and SET. A `ConnectionManager` reconnects by itself, but to the
/// address it started with; behind sentinels that address stops being the master's after a
/// failover (and the old master, back as a replica, would take PUBLISH without a word). So
/// there the manager is replaced with one to the master the sentinels name now, whenever a
/// command finds the connection gone or the server read-only, and whenever the pub/sub
/// connection had to reconnect.
#[derive(Clone)]
pub(super) struct Commands {
    target: Target,
    current: Arc<Mutex<ConnectionManager>>,
    /// Held while a replacement is made, so that failing commands make one, not one each.
    replacing: Arc<tokio::sync::Mutex<()>>,
}

impl Commands {
    pub(super) async fn connect(target: Target) -> RedisResult<Self> {
        let manager = target.connection_manager().await?;
        Ok(Self {
            target,
            current: Arc::new(Mutex::new(manager)),
            replacing: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The connection to send a command on (a cheap clone).
    pub(super) fn connection(&self) -> ConnectionManager {
        // Only clones and assignments happen under the lock: nothing can leave it half-done.
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// After a command failed with `error`: behind sentinels, when the error says the master
    /// may have changed, looks it up again in the background (the failed command is not
    /// retried: it may have been carried out).
    pub(super) fn failed(&self, error: &RedisError) {
        let master_may_have_moved =
            error.is_unrecoverable_error() || error.code() == Some("READONLY");
        if self.target.behind_sentinels() && master_may_have_moved {
            let commands = self.clone();
            tokio::spawn(async move { commands.follow_master().await });
        }
    }

    /// Behind sentinels, connects to the master they name now and uses that from then on.
    pub(super) async fn follow_master(&self) {
        if !self.target.behind_sentinels() {
            return;
        }
        let Ok(_replacing) = self.replacing.try_lock() else {
            return;
        };
        match self.target.connection_manager().await {
            Ok(manager) => {
                *self.current.lock().unwrap_or_else(PoisonError::into_inner) = manager;
                tracing::info!("psrpc: commands follow the master the sentinels name");
            }
            Err(error) => {
                tracing::warn!(%error, "psrpc: the sentinels' master is unreachable");
            }
        }
    }
}
