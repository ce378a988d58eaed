//! A LiveKit cluster of the test's own: a Redis, a livekit-server configured with it, and
//! sipbridge nodes in `mode: cluster` (in the test process, ports of their own). Each
//! cluster has its own Redis, because psrpc's pub/sub channels are not per database: two
//! clusters on one Redis would take each other's calls.
//!
//! Trunks and dispatch rules are created through livekit-server with the official Python
//! SDK ([`OwnCluster::store`]), as an application would; outbound calls and transfers go
//! through livekit-server too: each node's [`Bed`] has livekit-server's URL as its API.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{ApiCaller, Sdk};
use crate::sipp::{free_port, two_free_ports};
use crate::{Bed, OwnBridge, OwnLiveKit};

/// A `redis-server` of the test's own on 127.0.0.1.
#[derive(Debug)]
pub struct OwnRedis {
    child: Option<Child>,
    pub addr: String,
}

impl OwnRedis {
    pub fn start(dir: &std::path::Path) -> Self {
        let port = free_port(false);
        std::fs::create_dir_all(dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed by tests/bed/setup)");
        let redis = Self {
            child: Some(child),
            addr: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&redis.addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    /// Kills it outright (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis, livekit-server and the nodes; dropped in reverse (nodes first).
#[derive(Debug)]
pub struct OwnCluster {
    pub nodes: Vec<OwnBridge>,
    pub livekit: OwnLiveKit,
    pub redis: OwnRedis,
    /// livekit-server's HTTP URL: its API (and the nodes' `api_url`).
    pub api_url: String,
}

impl OwnCluster {
    /// A cluster named `name` with `nodes` nodes, each configured with `node_yaml` besides
    /// the mode, the Redis and LiveKit (e.g. `sip:` timers, `limits:`).
    pub fn start(bed: &Bed, name: &str, nodes: usize, node_yaml: &str) -> Self {
        let dir: PathBuf = bed.dir.join(name);
        let redis = OwnRedis::start(&dir.join("redis"));
        let livekit = OwnLiveKit::start_configured(
            bed,
            &bed.livekit_server,
            &format!("{name}-livekit"),
            two_free_ports(),
            &format!("redis:\n  address: {}\n", redis.addr),
        );
        let api_url = livekit.url.replace("ws://", "http://");
        let nodes = (0..nodes)
            .map(|index| {
                let yaml = format!(
                    "mode: cluster\nredis: {{ address: \"{}\" }}\n{node_yaml}",
                    redis.addr
                );
                let label = format!("{name}-node{index}");
                let mut node = OwnBridge::start_with_livekit(bed, &label, &livekit.url, &yaml);
                node.bed.api_url.clone_from(&api_url);
                node.bed.livekit_url.clone_from(&livekit.url);
                node
            })
            .collect();
        let cluster = Self {
            nodes,
            livekit,
            redis,
            api_url,
        };
        cluster.wait_until_served();
        cluster
    }

    /// The first node's view of the bed: its SIP address, records and metrics, with
    /// livekit-server as the API.
    pub fn bed(&self) -> &Bed {
        &self.nodes[0].bed
    }

    /// Creates a trunk or rule through livekit-server (tests/py/sip_store.py): its id.
    pub fn store(&self, order: &Value) -> String {
        store(self.bed(), order)
    }

    /// The nodes subscribe to their psrpc channels asynchronously once up; livekit-server
    /// answers on HTTP once it is. Both within a second or two.
    fn wait_until_served(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &self.nodes {
            let health = format!(
                "{}/health",
                node.bed.metrics_url.trim_end_matches("/metrics")
            );
            while http_status(&health) != Some(200) {
                assert!(Instant::now() < deadline, "node not ready: {health}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Creates a trunk or rule through the livekit-server that is `bed`'s API (a cluster's),
/// with the official Python SDK (tests/py/sip_store.py, livekit.SIP's JSON): its id.
pub fn store(bed: &Bed, order: &Value) -> String {
    store_with(bed, Sdk::Python, order)
}

/// The same with either SDK; the Node script (tests/node/sip_store.mjs) takes a smaller
/// order, described in it.
pub fn store_with(bed: &Bed, sdk: Sdk, order: &Value) -> String {
    store_through(&ApiCaller::of(bed), sdk, order)
}

/// The same through `caller`'s API URL (livekit-server's).
pub fn store_through(caller: &ApiCaller, sdk: Sdk, order: &Value) -> String {
    let (program, script) = match sdk {
        Sdk::Python => (caller.python.clone(), "py/sip_store.py"),
        Sdk::Node => ("node".into(), "node/sip_store.mjs"),
    };
    let output = Command::new(program)
        .arg(Bed::tests_file(script))
        .arg(order.to_string())
        .current_dir(Bed::tests_file(script).parent().unwrap())
        .env("SIPBRIDGE_API_URL", &caller.api_url)
        .env("LIVEKIT_API_KEY", &caller.api_key)
        .env("LIVEKIT_API_SECRET", &caller.api_secret)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{order}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    line["id"].as_str().unwrap().to_owned()
}

/// The agent dispatches of `room`, listed through livekit-server with the Python SDK
/// (tests/py/agent_dispatches.py); `None` while the room does not exist.
pub fn agent_dispatches(bed: &Bed, room: &str) -> Option<Vec<Value>> {
    let output = Command::new(&bed.python)
        .arg(Bed::tests_file("py/agent_dispatches.py"))
        .arg(room)
        .current_dir(Bed::tests_file("py"))
        .env("SIPBRIDGE_API_URL", &bed.api_url)
        .env("LIVEKIT_API_KEY", &bed.api_key)
        .env("LIVEKIT_API_SECRET", &bed.api_secret)
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    line["dispatches"].as_array().cloned()
}

/// The agent dispatches of `room` once it exists and has some; panics after `limit`.
pub fn agent_dispatches_within(bed: &Bed, room: &str, limit: Duration) -> Vec<Value> {
    let deadline = Instant::now() + limit;
    loop {
        match agent_dispatches(bed, room) {
            Some(dispatches) if !dispatches.is_empty() => return dispatches,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("no agent dispatch in {room} within {limit:?}: {other:?}"),
        }
    }
}

/// The HTTP status of a GET, by curl (already a test dependency of the bed).
fn http_status(url: &str) -> Option<u16> {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

impl OwnCluster {
    /// Makes `child`, a redis-server started on the address of the one killed, the
    /// cluster's Redis (killed with the cluster), for [`OwnCluster::start_redis_again`].
    pub(crate) fn adopt_redis(&mut self, child: Child) {
        self.redis = OwnRedis {
            child: Some(child),
            addr: self.redis.addr.clone(),
        };
    }
}
