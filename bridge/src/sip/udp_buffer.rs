//! The kernel's side of the SIP UDP sockets: a receive buffer large enough for a burst of
//! INVITEs (a few hundred arriving at once while the endpoint is busy), and the count of
//! datagrams the kernel still dropped because the buffer was full — drops no user agent is
//! told of, so an operator must see them (`sipbridge_sip_udp_receive_drops_total`).

use std::os::fd::AsRawFd;

use tokio::net::UdpSocket;

/// What we ask for; Linux caps it at `net.core.rmem_max` (4 MiB on many distributions,
/// 208 KiB on some) and reports twice the granted size, its bookkeeping included.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Enlarges `socket`'s receive buffer, saying so when the system grants less.
pub fn enlarge(socket: &UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    if let Err(error) = socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::warn!(%error, "SIP UDP receive buffer not enlarged");
        return;
    }
    let granted = socket.recv_buffer_size().unwrap_or(0) / 2;
    if granted < RECEIVE_BUFFER {
        tracing::info!(
            granted,
            wanted = RECEIVE_BUFFER,
            "SIP UDP receive buffer capped by net.core.rmem_max: raise it for large bursts of calls"
        );
    }
}

/// The socket's inode, by which `/proc/net/udp` names it.
pub fn inode(socket: &UdpSocket) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The datagrams the kernel dropped for these sockets since they opened, from
/// `/proc/net/udp` and `/proc/net/udp6` (Linux; `None` elsewhere).
pub fn drops(inodes: &[u64]) -> Option<u64> {
    let mut total = None;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for dropped in drops_in(&text, inodes) {
            *total.get_or_insert(0) += dropped;
        }
    }
    total
}

/// The `drops` column of the rows of `table` whose `inode` column is one of `inodes`.
fn drops_in<'a>(table: &'a str, inodes: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
    table.lines().skip(1).filter_map(move |row| {
        let columns: Vec<&str> = row.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        let inode: u64 = columns.get(9)?.parse().ok()?;
        inodes
            .contains(&inode)
            .then(|| columns.get(12)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drops_of_our_sockets_are_read_from_the_kernels_table() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  124: 0100007F:13C5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 5
";
        assert_eq!(drops_in(table, &[4242]).collect::<Vec<_>>(), [17]);
        assert_eq!(drops_in(table, &[1]).count(), 0);
    }

    #[tokio::test]
    async fn a_bound_socket_has_an_inode_in_the_table_and_no_drops() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        enlarge(&socket);
        let inode = inode(&socket).unwrap();
        assert_eq!(drops(&[inode]), Some(0));
    }
}
