//! The Redis side: publish, the queue lock, and one pub/sub connection that (un)subscribes as
//! channels come and go and, when Redis goes away, reconnects and subscribes again to every
//! channel still wanted (messages published meanwhile are lost, as with psrpc itself).
//! Redis is one server or, through sentinels, whichever is master ([`RedisSettings`]).

mod settings;
mod target;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::{AsyncCommands as _, RedisError};
use tokio::sync::mpsc;

use crate::QUEUE_LOCK_SECONDS;

pub use settings::{RedisSettings, SentinelSettings, TlsSettings};
use target::{Commands, Target};

/// How many messages of one channel may wait for their reader; more are dropped (a reader
/// that far behind has lost them anyway).
const CHANNEL_QUEUE: usize = 256;

/// The longest wait between two attempts to reach Redis again.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis settings: {0}")]
    Settings(String),
    #[error("{}: cannot read: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the subscriber task has stopped")]
    Stopped,
}

/// A connection to Redis for psrpc: cheap to clone.
#[derive(Clone)]
pub struct Bus {
    commands: Commands,
    subscriptions: mpsc::Sender<Subscription>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

/// A new reader of a channel, for the pub/sub connection.
#[derive(Debug)]
struct Subscription {
    channel: String,
    reader: mpsc::Sender<Vec<u8>>,
}

impl Bus {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port/db`, or `rediss://`).
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        settings::install_crypto_provider();
        Self::start(Target::Direct(Box::new(redis::Client::open(url)?))).await
    }

    /// Connects to the Redis `settings` describe (behind sentinels: to their master).
    pub async fn connect_with(settings: &RedisSettings) -> Result<Self, BusError> {
        Self::start(settings.target()?).await
    }

    async fn start(target: Target) -> Result<Self, BusError> {
        let commands = Commands::connect(target.clone()).await?;
        let pubsub = target.client().await?.get_async_pubsub().await?;
        let (subscriptions, changes) = mpsc::channel(64);
        tokio::spawn(listen(target, commands.clone(), pubsub, changes));
        Ok(Self {
            commands,
            subscriptions,
        })
    }

    /// The payloads published on `channel` from now on, until the receiver is dropped.
    pub async fn subscribe(&self, channel: &str) -> Result<mpsc::Receiver<Vec<u8>>, BusError> {
        let (reader, payloads) = mpsc::channel(CHANNEL_QUEUE);
        let add = Subscription {
            channel: channel.to_owned(),
            reader,
        };
        self.subscriptions
            .send(add)
            .await
            .map_err(|_| BusError::Stopped)?;
        Ok(payloads)
    }

    /// Publishes `payload` on `channel`. A connection Redis dropped (a restart) is found
    /// only by the next command, which then fails; it is sent once more on the new
    /// connection. Sent twice is harmless: servers take a request once (the queue lock is
    /// the payload's hash), and clients and servers ignore a second bid, award or response.
    pub async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), BusError> {
        let mut published = self.publish_once(channel, &payload).await;
        if published
            .as_ref()
            .is_err_and(RedisError::is_connection_dropped)
        {
            published = self.publish_once(channel, &payload).await;
        }
        published?;
        Ok(())
    }

    async fn publish_once(&self, channel: &str, payload: &[u8]) -> Result<i64, RedisError> {
        let published = self.commands.connection().publish(channel, payload).await;
        if let Err(error) = &published {
            self.commands.failed(error);
        }
        published
    }

    /// Takes the queue lock for `payload` (`SET key value NX EX 5`): whether we won it. On a
    /// dropped connection it asks again; should the first SET have been carried out after
    /// all, the key holds our value, which is how we know the lock is ours.
    pub async fn lock(&self, payload: &[u8]) -> Result<bool, BusError> {
        let key = crate::queue_lock_key(payload);
        let value = rand::random::<u32>();
        match self.set_if_absent(&key, value).await {
            Err(error) if error.is_connection_dropped() => {}
            set => return Ok(set?),
        }
        if self.set_if_absent(&key, value).await? {
            return Ok(true);
        }
        let holder: Option<u32> = self.commands.connection().get(&key).await?;
        Ok(holder == Some(value))
    }

    async fn set_if_absent(&self, key: &str, value: u32) -> Result<bool, RedisError> {
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(QUEUE_LOCK_SECONDS));
        let set: Result<Option<String>, _> = self
            .commands
            .connection()
            .set_options(key, value, options)
            .await;
        if let Err(error) = &set {
            self.commands.failed(error);
        }
        Ok(set?.is_some())
    }
}

/// The pub/sub connection's task: subscribes as asked, hands each message to the readers of
/// its channel, and after a lost connection reconnects (behind sentinels, to the master they
/// name then, where the commands follow it) and subscribes again.
async fn listen(
    target: Target,
    commands: Commands,
    first: redis::aio::PubSub,
    mut changes: mpsc::Receiver<Subscription>,
) {
    let mut readers: HashMap<String, Vec<mpsc::Sender<Vec<u8>>>> = HashMap::new();
    let mut connection = Some(first);
    loop {
        let pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => match reconnect(&target, &mut changes, &mut readers).await {
                Some(pubsub) => {
                    commands.follow_master().await;
                    pubsub
                }
                None => return,
            },
        };
        let (mut sink, mut stream) = pubsub.split();
        for channel in readers.keys() {
            if let Err(error) = sink.subscribe(channel).await {
                tracing::warn!(%error, channel, "psrpc: resubscribe failed");
            }
        }
        loop {
            tokio::select! {
                change = changes.recv() => {
                    let Some(Subscription { channel, reader }) = change else {
                        // The bus is gone: nothing more to listen for.
                        return;
                    };
                    let new = !readers.contains_key(&channel);
                    readers.entry(channel.clone()).or_default().push(reader);
                    if new && let Err(error) = sink.subscribe(&channel).await {
                        tracing::warn!(%error, channel, "psrpc: subscribe failed");
                        break;
                    }
                }
                message = stream.next() => {
                    let Some(message) = message else {
                        tracing::warn!("psrpc: the Redis pub/sub connection was lost");
                        break;
                    };
                    let channel = message.get_channel_name();
                    if deliver(&mut readers, channel, message.get_payload_bytes()) {
                        // Nobody reads it any more.
                        readers.remove(channel);
                        if let Err(error) = sink.unsubscribe(channel).await {
                            tracing::debug!(%error, "psrpc: unsubscribe failed");
                        }
                    }
                }
            }
        }
    }
}

/// Hands `payload` to the channel's readers; `true` when none is left.
fn deliver(
    readers: &mut HashMap<String, Vec<mpsc::Sender<Vec<u8>>>>,
    channel: &str,
    payload: &[u8],
) -> bool {
    let Some(list) = readers.get_mut(channel) else {
        return false;
    };
    list.retain(|reader| match reader.try_send(payload.to_vec()) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(channel, "psrpc: a reader is behind; message dropped");
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
    list.is_empty()
}

/// A new pub/sub connection, retried with a growing wait; subscriptions asked for meanwhile
/// are kept. `None` once the bus is gone.
async fn reconnect(
    target: &Target,
    changes: &mut mpsc::Receiver<Subscription>,
    readers: &mut HashMap<String, Vec<mpsc::Sender<Vec<u8>>>>,
) -> Option<redis::aio::PubSub> {
    let mut wait = Duration::from_millis(50);
    loop {
        let pubsub = match target.client().await {
            Ok(client) => client.get_async_pubsub().await,
            Err(error) => Err(error),
        };
        match pubsub {
            Ok(pubsub) => {
                tracing::info!("psrpc: reconnected to Redis");
                return Some(pubsub);
            }
            Err(error) => tracing::debug!(%error, "psrpc: Redis still unreachable"),
        }
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                change = changes.recv() => match change {
                    Some(Subscription { channel, reader }) => {
                        readers.entry(channel).or_default().push(reader);
                    }
                    None => return None,
                },
            }
        }
        wait = (wait * 2).min(MAX_RECONNECT_WAIT);
    }
}
