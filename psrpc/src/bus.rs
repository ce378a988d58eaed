//! The Redis side: publish, the queue lock, and one pub/sub connection that (un)subscribes as
//! channels come and go and, when Redis goes away, reconnects and subscribes again to every
//! channel still wanted (messages published meanwhile are lost, as with psrpc itself).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use crate::QUEUE_LOCK_SECONDS;

/// How many messages of one channel may wait for their reader; more are dropped (a reader
/// that far behind has lost them anyway).
const CHANNEL_QUEUE: usize = 256;

/// The longest wait between two attempts to reach Redis again.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the subscriber task has stopped")]
    Stopped,
}

/// A connection to Redis for psrpc: cheap to clone.
#[derive(Clone)]
pub struct Bus {
    commands: ConnectionManager,
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
        let client = redis::Client::open(url)?;
        let commands = client.get_connection_manager().await?;
        let pubsub = client.get_async_pubsub().await?;
        let (subscriptions, changes) = mpsc::channel(64);
        tokio::spawn(listen(client, pubsub, changes));
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

    pub async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), BusError> {
        let mut commands = self.commands.clone();
        let _: i64 = commands.publish(channel, payload).await?;
        Ok(())
    }

    /// Takes the queue lock for `payload` (`SET key value NX EX 5`): whether we won it.
    pub async fn lock(&self, payload: &[u8]) -> Result<bool, BusError> {
        let mut commands = self.commands.clone();
        let key = crate::queue_lock_key(payload);
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::EX(QUEUE_LOCK_SECONDS));
        let set: Option<String> = commands
            .set_options(key, rand::random::<u32>(), options)
            .await?;
        Ok(set.is_some())
    }
}

/// The pub/sub connection's task: subscribes as asked, hands each message to the readers of
/// its channel, and after a lost connection reconnects and subscribes again.
async fn listen(
    client: redis::Client,
    first: redis::aio::PubSub,
    mut changes: mpsc::Receiver<Subscription>,
) {
    let mut readers: HashMap<String, Vec<mpsc::Sender<Vec<u8>>>> = HashMap::new();
    let mut connection = Some(first);
    loop {
        let pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => match reconnect(&client, &mut changes, &mut readers).await {
                Some(pubsub) => pubsub,
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
    client: &redis::Client,
    changes: &mut mpsc::Receiver<Subscription>,
    readers: &mut HashMap<String, Vec<mpsc::Sender<Vec<u8>>>>,
) -> Option<redis::aio::PubSub> {
    let mut wait = Duration::from_millis(50);
    loop {
        match client.get_async_pubsub().await {
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
