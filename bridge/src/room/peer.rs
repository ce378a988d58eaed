//! One WebRTC peer connection to the SFU: a str0m `Rtc` and the UDP socket it talks through.
//!
//! The participant's task owns two of these (publisher and subscriber, the server's dual peer
//! connection mode) and drives both; nothing here spawns or blocks.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use livekit_protocol as proto;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcError};
use tokio::net::UdpSocket;

/// Larger than any datagram the SFU sends (its MTU is ~1200–1500 bytes).
const RECV_BUFFER: usize = 2048;

pub(super) struct Peer {
    pub(super) rtc: Rtc,
    pub(super) target: proto::SignalTarget,
    socket: UdpSocket,
    local: SocketAddr,
    buf: Vec<u8>,
    /// The next time str0m wants [`Input::Timeout`].
    pub(super) deadline: Instant,
    /// Datagrams that could not be sent because the socket buffer was full (UDP: dropped).
    pub(super) send_drops: u64,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("target", &self.target)
            .field("local", &self.local)
            .finish()
    }
}

impl Peer {
    /// A peer connection on a fresh UDP port of `local_ip`, offering one host candidate.
    pub(super) async fn new(
        target: proto::SignalTarget,
        local_ip: IpAddr,
        now: Instant,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        let local = socket.local_addr()?;
        let mut rtc = Rtc::builder()
            // The room leg carries Opus only; no video is ever subscribed.
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| io::Error::other(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut peer = Self {
            rtc,
            target,
            socket,
            local,
            buf: vec![0; RECV_BUFFER],
            deadline: now,
            send_drops: 0,
        };
        // Adding the candidate was a mutation: drain before the caller's next one.
        peer.drain(&mut Vec::new()).map_err(io::Error::other)?;
        Ok(peer)
    }

    /// Our host candidate, for trickling to the server.
    pub(super) fn local_candidate(&self) -> Option<Candidate> {
        Candidate::host(self.local, "udp").ok()
    }

    /// Waits for the next datagram; cancel-safe, so it can sit in a `select!`.
    pub(super) async fn recv(&mut self) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(&mut self.buf).await
    }

    /// Feeds a datagram that [`Self::recv`] returned. Anything that is not STUN, DTLS,
    /// RTP or RTCP is dropped here: the port is open to whoever finds it.
    pub(super) fn receive(
        &mut self,
        now: Instant,
        len: usize,
        source: SocketAddr,
    ) -> Result<(), RtcError> {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, &self.buf[..len]) else {
            return Ok(());
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            return Ok(());
        }
        self.rtc.handle_input(input)
    }

    /// Advances str0m's timers.
    pub(super) fn timeout(&mut self, now: Instant) -> Result<(), RtcError> {
        self.rtc.handle_input(Input::Timeout(now))
    }

    /// Drains str0m after a mutation (str0m's single-mutation rule): sends what it wants
    /// sent, collects its events and records its next deadline.
    pub(super) fn drain(&mut self, events: &mut Vec<Event>) -> Result<(), RtcError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => {
                    self.deadline = at;
                    return Ok(());
                }
                Output::Transmit(t) => {
                    // A full socket buffer means the network is saturated; like any UDP
                    // loss, RTP, SCTP and ICE recover on their own.
                    if self.socket.try_send_to(&t.contents, t.destination).is_err() {
                        self.send_drops += 1;
                    }
                }
                Output::Event(e) => events.push(e),
            }
        }
    }
}

/// The local address that routes to `remote`: the host candidate the SFU can reach.
/// Connecting a UDP socket sends nothing; it only asks the kernel for the route.
pub(super) fn local_ip_towards(remote: SocketAddr) -> io::Result<IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(remote)?;
    Ok(probe.local_addr()?.ip())
}
