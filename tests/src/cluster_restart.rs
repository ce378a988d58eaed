//! A cluster's livekit-server or Redis started again where the nodes expect it, after a
//! test killed it (`cluster.livekit.kill()`, `cluster.redis.kill()`: SIGKILL, as a crash
//! would): the same ports, the same configuration. The nodes are not told; they find the new
//! server the way they would in production. A Redis comes back empty, unless it was killed
//! with [`OwnCluster::kill_redis_keeping_its_data`], as one with persistence would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{OwnCluster, OwnLiveKit};

impl OwnCluster {
    /// A new livekit-server on the signal and media ports of the one killed, on the same
    /// Redis. `name` is the cluster's (as given to [`OwnCluster::start`]); the new server's
    /// files go beside the first's, in `<name>-livekit-again/`, so both logs stay.
    pub fn start_livekit_again(&mut self, name: &str) {
        self.livekit.kill();
        let bed = self.bed().clone();
        let port = port_of(&self.livekit.url);
        let first_config = bed.dir.join(format!("{name}-livekit")).join("livekit.yaml");
        let udp_port = udp_port_of(&first_config);
        self.livekit = OwnLiveKit::start_configured(
            &bed,
            &bed.livekit_server,
            &format!("{name}-livekit-again"),
            (port, udp_port),
            &format!("redis:\n  address: {}\n", self.redis.addr),
        );
    }

    /// Kills Redis after it has written its data to disk: what a Redis with persistence
    /// (livekit-server keeps its SIP trunks and dispatch rules there) has when it crashes.
    /// The next [`OwnCluster::start_redis_again`] of the cluster `name` loads it.
    pub fn kill_redis_keeping_its_data(&mut self, name: &str) {
        let mut redis = std::net::TcpStream::connect(&self.redis.addr).unwrap();
        redis
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // An inline command; SAVE answers "+OK" once the file is written: `dump.rdb` from
        // the first Redis, the snapshot's own name from one started again.
        redis.write_all(b"SAVE\r\n").unwrap();
        let mut answer = [0; 5];
        redis.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"+OK\r\n", "SAVE");
        // Under a name of its own, which no other start of this cluster's Redis reads.
        let (dir, snapshot) = (self.redis_dir(name), snapshot_file());
        if !dir.join(&snapshot).exists() {
            std::fs::rename(dir.join("dump.rdb"), dir.join(snapshot)).unwrap();
        }
        self.redis.kill();
    }

    /// A new redis-server on the port of the one killed, with the data it kept (if it was
    /// killed with [`OwnCluster::kill_redis_keeping_its_data`]), else empty; returns once it
    /// answers. `name` is the cluster's.
    pub fn start_redis_again(&mut self, name: &str) {
        self.redis.kill();
        let port = port_of(&self.redis.addr);
        let dir = self.redis_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let snapshot = snapshot_file();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--dbfilename")
            .arg(snapshot.file_name().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed by tests/bed/setup)");
        self.adopt_redis(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        // PONG only once its data is loaded (before, connections get "-LOADING").
        while !pong(&self.redis.addr) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start again"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Loaded: a later start of the same cluster must not find it.
        let _ = std::fs::remove_file(dir.join(snapshot));
    }

    /// The pub/sub channels of Redis that have a subscriber now (livekit-server's and the
    /// nodes' psrpc channels).
    pub fn redis_channels(&self) -> Vec<String> {
        let redis = std::net::TcpStream::connect(&self.redis.addr).unwrap();
        redis
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (&redis).write_all(b"PUBSUB CHANNELS\r\n").unwrap();
        // An array: "*<count>", then each name as "$<length>" and the name, CRLF after each.
        let mut lines = BufReader::new(&redis).lines().map(Result::unwrap);
        let count = lines.next().unwrap_or_default();
        let count: usize = count
            .strip_prefix('*')
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("PUBSUB CHANNELS answered {count:?}"));
        (0..count)
            .map(|_| {
                lines.next();
                lines.next().unwrap_or_default()
            })
            .collect()
    }

    /// Where [`OwnCluster::start`] had the cluster `name`'s Redis keep its files.
    fn redis_dir(&self, name: &str) -> PathBuf {
        self.bed().dir.join(name).join("redis")
    }
}

/// Whether the Redis at `addr` answers PING with PONG.
fn pong(addr: &str) -> bool {
    let Ok(mut redis) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = redis.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = [0; 7];
    redis.write_all(b"PING\r\n").is_ok()
        && redis.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// The file a Redis of this process keeps its data in across a restart (one name per
/// process: a file left by a run that failed half-way is never loaded by another).
fn snapshot_file() -> PathBuf {
    PathBuf::from(format!("again-{}.rdb", std::process::id()))
}

/// The port of `ws://127.0.0.1:7880` or `127.0.0.1:6379`.
fn port_of(address: &str) -> u16 {
    let port = address.rsplit(':').next().unwrap_or_default();
    port.parse()
        .unwrap_or_else(|_| panic!("no port in {address}"))
}

/// The `rtc.udp_port` of a livekit-server configuration written by [`OwnLiveKit`].
fn udp_port_of(config: &Path) -> u16 {
    let text =
        std::fs::read_to_string(config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    text.lines()
        .find_map(|line| line.trim().strip_prefix("udp_port:"))
        .and_then(|port| port.trim().parse().ok())
        .unwrap_or_else(|| panic!("no udp_port in {}", config.display()))
}
