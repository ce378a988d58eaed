//! SIP over UDP and TCP: the sockets, and nothing else (hickory-dns style: transports never
//! see business logic). Every received message goes to the endpoint task as an
//! [`Inbound`]; the endpoint sends through a cloneable [`Transports`] handle.
//!
//! TCP connections are kept in a table by peer address so that responses and in-dialog
//! requests reuse the connection the peer opened (RFC 3261 §18.2.2), and so that requests
//! we originate can open one (RFC 3261 §18.1.1).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sipbridge_signaling::message::{Framed, Limits, StreamFramer};
use sipbridge_signaling::transaction::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How long a TCP connect may take before the destination counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages waiting to be written to one TCP connection.
const WRITE_QUEUE: usize = 256;

/// What the sockets deliver to the endpoint.
#[derive(Debug)]
pub enum Inbound {
    /// A datagram or one framed stream message, not parsed yet.
    Message {
        bytes: Bytes,
        source: SocketAddr,
        transport: Transport,
    },
    /// A TCP connection could not be opened or broke with messages queued for it.
    Unreachable {
        destination: SocketAddr,
        detail: String,
    },
}

/// The sending half, shared by the endpoint and whoever else needs to send.
#[derive(Debug, Clone)]
pub struct Transports {
    /// Each UDP socket with whether it is IPv4, looked up once rather than per datagram.
    udp: Arc<Vec<(bool, Arc<UdpSocket>)>>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>,
    inbound: mpsc::Sender<Inbound>,
    limits: Limits,
}

impl Transports {
    /// Starts a receive task per UDP socket and an accept task per TCP listener, all in
    /// `tasks`; received messages go to `inbound`.
    pub fn start(
        udp: Vec<UdpSocket>,
        tcp: Vec<TcpListener>,
        inbound: mpsc::Sender<Inbound>,
        tasks: &mut JoinSet<()>,
    ) -> Self {
        let udp: Vec<Arc<UdpSocket>> = udp.into_iter().map(Arc::new).collect();
        let transports = Self {
            udp: Arc::new(
                udp.iter()
                    .map(|s| (s.local_addr().is_ok_and(|a| a.is_ipv4()), s.clone()))
                    .collect(),
            ),
            tcp: Arc::default(),
            inbound,
            limits: Limits::default(),
        };
        for socket in udp {
            super::udp_buffer::enlarge(&socket);
            tasks.spawn(transports.clone().receive_udp(socket));
        }
        for listener in tcp {
            tasks.spawn(transports.clone().accept_tcp(listener));
        }
        transports
    }

    /// Sends one message. UDP errors are logged only (RFC 3261 leaves loss to the
    /// retransmission timers); a TCP destination without a connection gets one, and a failed
    /// connect comes back as [`Inbound::Unreachable`].
    pub fn send(&self, destination: SocketAddr, transport: Transport, bytes: Bytes) {
        match transport {
            Transport::Udp => self.send_udp(destination, bytes),
            // TLS listeners arrive in a later issue; until then nothing is sent over TLS.
            Transport::Tcp | Transport::Tls => self.send_tcp(destination, bytes),
        }
    }

    fn send_udp(&self, destination: SocketAddr, bytes: Bytes) {
        // The socket of the destination's address family; any one of them otherwise.
        let socket = self
            .udp
            .iter()
            .find(|(ipv4, _)| *ipv4 == destination.is_ipv4())
            .or_else(|| self.udp.first())
            .map(|(_, socket)| socket);
        let Some(socket) = socket else {
            tracing::warn!(%destination, "no UDP listener to send SIP from");
            return;
        };
        if let Err(error) = socket.try_send_to(&bytes, destination) {
            tracing::debug!(%destination, %error, "SIP datagram not sent");
        }
    }

    fn send_tcp(&self, destination: SocketAddr, bytes: Bytes) {
        let existing = self.connections().get(&destination).cloned();
        let bytes = match existing {
            Some(writer) => match writer.try_send(bytes) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%destination, "SIP TCP write queue full; message dropped");
                    return;
                }
                // The connection ended; open a new one below.
                Err(mpsc::error::TrySendError::Closed(bytes)) => bytes,
            },
            None => bytes,
        };
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let _ = writer.try_send(bytes);
        self.connections().insert(destination, writer);
        tokio::spawn(self.clone().connect_tcp(destination, queue));
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::Sender<Bytes>>> {
        // A poisoned lock only means another task panicked mid-insert; the map is still usable.
        self.tcp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn receive_udp(self, socket: Arc<UdpSocket>) {
        let mut buffer = vec![0u8; 65_535];
        loop {
            let (len, source) = match socket.recv_from(&mut buffer).await {
                Ok(received) => received,
                // ICMP errors surface here on some systems; they say nothing about the next
                // datagram, so keep receiving.
                Err(error) => {
                    tracing::debug!(%error, "SIP UDP receive error");
                    continue;
                }
            };
            let message = Inbound::Message {
                bytes: Bytes::copy_from_slice(&buffer[..len]),
                source,
                transport: Transport::Udp,
            };
            if self.inbound.send(message).await.is_err() {
                return; // The endpoint stopped.
            }
        }
    }

    async fn accept_tcp(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let (writer, queue) = mpsc::channel(WRITE_QUEUE);
                    self.connections().insert(peer, writer);
                    tokio::spawn(self.clone().serve_tcp(stream, peer, queue));
                }
                Err(error) => {
                    tracing::warn!(%error, "SIP TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn connect_tcp(self, destination: SocketAddr, queue: mpsc::Receiver<Bytes>) {
        let connected =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(destination)).await;
        match connected {
            Ok(Ok(stream)) => self.serve_tcp(stream, destination, queue).await,
            Ok(Err(error)) => self.unreachable(destination, connect_failure(&error)).await,
            Err(_) => {
                self.unreachable(destination, "connect timed out".into())
                    .await
            }
        }
    }

    async fn unreachable(&self, destination: SocketAddr, detail: String) {
        self.connections().remove(&destination);
        let _ = self
            .inbound
            .send(Inbound::Unreachable {
                destination,
                detail,
            })
            .await;
    }

    /// Reads and frames one connection and writes what is queued for it, until either side
    /// closes it or it cannot be framed any more.
    async fn serve_tcp(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        mut queue: mpsc::Receiver<Bytes>,
    ) {
        let (mut reader, mut writer) = stream.into_split();
        let mut framer = StreamFramer::new(self.limits);
        let mut buffer = vec![0u8; 16_384];
        let ended = loop {
            tokio::select! {
                read = reader.read(&mut buffer) => {
                    let len = match read {
                        Ok(0) => break "closed by peer".to_owned(),
                        Ok(len) => len,
                        Err(error) => break error.to_string(),
                    };
                    framer.push(&buffer[..len]);
                    match self.deliver_frames(&mut framer, peer, &mut writer).await {
                        Ok(true) => {}
                        Ok(false) => return, // The endpoint stopped.
                        Err(error) => break error,
                    }
                }
                outgoing = queue.recv() => {
                    let Some(bytes) = outgoing else { break "no longer used".to_owned() };
                    if let Err(error) = writer.write_all(&bytes).await {
                        break error.to_string();
                    }
                }
            }
        };
        tracing::debug!(%peer, reason = %ended, "SIP TCP connection ended");
        // Closing our queue first makes our entry's sender report closed, so only our entry
        // is forgotten if a reconnect has already replaced it.
        queue.close();
        let mut connections = self.connections();
        if connections.get(&peer).is_some_and(mpsc::Sender::is_closed) {
            connections.remove(&peer);
        }
    }

    /// Hands every complete message to the endpoint and answers keep-alive pings. `Ok(false)`
    /// when the endpoint is gone; `Err` when the stream must be closed.
    async fn deliver_frames(
        &self,
        framer: &mut StreamFramer,
        peer: SocketAddr,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
    ) -> Result<bool, String> {
        loop {
            match framer.next_frame() {
                Ok(Some(Framed::Message(bytes))) => {
                    let message = Inbound::Message {
                        bytes,
                        source: peer,
                        transport: Transport::Tcp,
                    };
                    if self.inbound.send(message).await.is_err() {
                        return Ok(false);
                    }
                }
                // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF.
                Ok(Some(Framed::Ping)) => {
                    writer.write_all(b"\r\n").await.map_err(|e| e.to_string())?
                }
                Ok(None) => return Ok(true),
                Err(error) => return Err(format!("unframeable stream: {error}")),
            }
        }
    }
}

/// A connect error as the record's "Transport failure: <detail>" names it.
fn connect_failure(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "TCP connection refused".to_owned(),
        std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
            "host unreachable".to_owned()
        }
        _ => format!("TCP connect failed: {error}"),
    }
}
