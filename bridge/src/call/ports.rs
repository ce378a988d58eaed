//! RTP/RTCP port pairs from `rtp.port_range`: an even RTP port and the odd port above it for
//! RTCP (RFC 3550 §11), one pair per call, handed back when the call's sockets close.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use sipbridge_config::PortRange;
use tokio::net::UdpSocket;

/// The bound sockets of one call; the pair returns to the pool when this is dropped.
#[derive(Debug)]
pub struct RtpSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    port: u16,
    pool: RtpPorts,
}

impl RtpSockets {
    pub fn rtp_port(&self) -> u16 {
        self.port
    }
}

impl Drop for RtpSockets {
    fn drop(&mut self) {
        self.pool.in_use().remove(&self.port);
    }
}

/// The pool, shared by every call.
#[derive(Debug, Clone)]
pub struct RtpPorts {
    range: PortRange,
    bind_ip: IpAddr,
    used: Arc<Mutex<BTreeSet<u16>>>,
    /// Where the next search starts, so a just-released pair is not reused at once (late
    /// packets of the old call would land in the new one).
    next: Arc<Mutex<u16>>,
}

impl RtpPorts {
    pub fn new(range: PortRange, bind_ip: IpAddr) -> Self {
        let first_even = range.min + range.min % 2;
        Self {
            range,
            bind_ip,
            used: Arc::default(),
            next: Arc::new(Mutex::new(first_even)),
        }
    }

    fn in_use(&self) -> std::sync::MutexGuard<'_, BTreeSet<u16>> {
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Binds the next free pair; `None` when every pair is in use or taken by another
    /// program (the call then fails with 503).
    pub async fn allocate(&self) -> Option<RtpSockets> {
        let pairs = self.range.pairs();
        for _ in 0..pairs {
            let port = self.reserve_next()?;
            let rtp = UdpSocket::bind(SocketAddr::new(self.bind_ip, port)).await;
            let rtcp = UdpSocket::bind(SocketAddr::new(self.bind_ip, port + 1)).await;
            match (rtp, rtcp) {
                (Ok(rtp), Ok(rtcp)) => {
                    return Some(RtpSockets {
                        rtp,
                        rtcp,
                        port,
                        pool: self.clone(),
                    });
                }
                _ => {
                    // Taken by someone else: leave it marked for this round, try the next.
                    tracing::debug!(port, "RTP port pair not available");
                    self.in_use().remove(&port);
                }
            }
        }
        None
    }

    /// Marks the next free even port in use, round robin through the range.
    fn reserve_next(&self) -> Option<u16> {
        let first_even = self.range.min + self.range.min % 2;
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut used = self.in_use();
        for _ in 0..self.range.pairs() {
            let port = *next;
            let after = port.saturating_add(2);
            *next = if after >= self.range.max {
                first_even
            } else {
                after
            };
            if used.insert(port) {
                return Some(port);
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pairs_are_even_distinct_and_returned() {
        let ports = RtpPorts::new(
            PortRange {
                min: 41001,
                max: 41007,
            },
            "127.0.0.1".parse().unwrap(),
        );
        let a = ports.allocate().await.unwrap();
        let b = ports.allocate().await.unwrap();
        let c = ports.allocate().await.unwrap();
        assert_eq!(
            [a.rtp_port(), b.rtp_port(), c.rtp_port()],
            [41002, 41004, 41006]
        );
        assert!(ports.allocate().await.is_none(), "only three pairs fit");
        drop(b);
        assert_eq!(ports.allocate().await.unwrap().rtp_port(), 41004);
    }
}
