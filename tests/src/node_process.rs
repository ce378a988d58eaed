//! A sipbridge node of an [`OwnCluster`] run as a process of its own (`sipbridge --config
//! FILE`, the bed's binary), for a test that must kill it outright: an in-process
//! [`crate::OwnBridge`] can only be stopped, not killed. Its YAML, log and records are in the
//! cluster's directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sipp::free_port;
use crate::{Bed, OwnCluster};

#[derive(Debug)]
pub struct NodeProcess {
    child: Option<Child>,
    /// The cluster as seen through this node: its SIP address, metrics and records, with
    /// livekit-server as the API.
    pub bed: Bed,
    log: PathBuf,
    /// How it was started, to start it again.
    binary: PathBuf,
    config: PathBuf,
}

impl NodeProcess {
    /// The bridge binary the bed exports (`SIPBRIDGE_BIN`), or `None` after printing why
    /// `test` is skipped; panics instead with `CI=true`, where nothing may be skipped.
    pub fn binary(bed: &Bed, test: &str) -> Option<PathBuf> {
        let binary = bed.bridge_bin.clone().filter(|path| path.is_file());
        if binary.is_none() {
            let reason = "the bed exports no bridge binary (SIPBRIDGE_BIN): export the output \
                          of tests/bed/up";
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{test}: {reason}");
            }
            eprintln!("SKIPPED {test}: {reason}");
        }
        binary
    }

    /// Starts `binary` as a node of `cluster` on ports of its own (`label` names its files),
    /// and returns once it is healthy and serving livekit-server's calls.
    pub fn start(bed: &Bed, binary: &Path, cluster: &OwnCluster, label: &str) -> Self {
        let dir = fresh_dir(bed, label);
        let sip_addr = format!("127.0.0.1:{}", free_port(false));
        let http_addr = format!("127.0.0.1:{}", free_port(false));
        let cdr = dir.join("cdr.jsonl");
        let _ = std::fs::remove_file(&cdr);
        let config = dir.join("sipbridge.yaml");
        std::fs::write(
            &config,
            node_yaml(bed, cluster, &sip_addr, &http_addr, &cdr),
        )
        .unwrap();
        let bed = Bed {
            sip_addr,
            api_url: cluster.api_url.clone(),
            livekit_url: cluster.livekit.url.clone(),
            metrics_url: format!("http://{http_addr}/metrics"),
            cdr,
            ..bed.clone()
        };
        Self::spawn(bed, binary, &config)
    }

    /// A bridge in standalone mode as a process of its own, on the bed's livekit-server with
    /// `yaml` (trunks, rules) on top, its files in the bed's directory `label`.
    pub fn standalone(bed: &Bed, binary: &Path, label: &str, yaml: &str) -> Self {
        let dir = fresh_dir(bed, label);
        let sip_addr = format!("127.0.0.1:{}", free_port(false));
        let http_addr = format!("127.0.0.1:{}", free_port(false));
        let cdr = dir.join("cdr.jsonl");
        let _ = std::fs::remove_file(&cdr);
        let _ = std::fs::remove_dir_all(dir.join("cdr.jsonl.live"));
        let config = dir.join("sipbridge.yaml");
        let text = format!(
            "livekit: {{ url: \"{}\", api_key: {}, api_secret: {} }}\n\
             sip:\n  listen: {{ udp: [\"{sip_addr}\"], tcp: [\"{sip_addr}\"] }}\n  external_ip: 127.0.0.1\n\
             http: {{ listen: \"{http_addr}\" }}\n\
             cdr: {{ path: \"{}\" }}\n\
             limits: {{ max_cpu_utilization: 1.0 }}\n{yaml}",
            bed.livekit_url,
            bed.api_key,
            bed.api_secret,
            cdr.display()
        );
        std::fs::write(&config, text).unwrap();
        let bed = Bed {
            sip_addr,
            api_url: format!("http://{http_addr}"),
            metrics_url: format!("http://{http_addr}/metrics"),
            cdr,
            ..bed.clone()
        };
        Self::spawn(bed, binary, &config)
    }

    /// Starts the same bridge again (after [`NodeProcess::kill`]): same config, ports and
    /// record file.
    pub fn start_again(&mut self) {
        self.kill();
        let again = Self::spawn(self.bed.clone(), &self.binary.clone(), &self.config.clone());
        *self = again;
    }

    fn spawn(bed: Bed, binary: &Path, config: &Path) -> Self {
        let dir = config.parent().unwrap_or(Path::new("."));
        let log = dir.join("sipbridge.log");
        let child = Command::new(binary)
            .arg("--config")
            .arg(config)
            // The bed's exported LIVEKIT_* (and any REDIS_*) would override the YAML, as
            // they do for livekit-server: the node must reach this cluster only.
            .env_remove("LIVEKIT_URL")
            .env_remove("LIVEKIT_API_KEY")
            .env_remove("LIVEKIT_API_SECRET")
            .env_remove("REDIS_HOST")
            .env_remove("REDIS_PASSWORD")
            .stdin(Stdio::null())
            .stdout(append(&log))
            .stderr(append(&dir.join("sipbridge.stderr")))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut node = Self {
            child: Some(child),
            bed,
            log,
            binary: binary.to_owned(),
            config: config.to_owned(),
        };
        node.wait_until_serving();
        node
    }

    /// Kills the node outright (SIGKILL), as a crash or the OOM killer would: no drain, no
    /// BYE, no record, no goodbye to livekit-server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the node to stop (SIGTERM, as an orchestrator does), without waiting.
    pub fn signal_terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }

    /// Waits up to `limit` for the node, already told to stop, to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the node runs");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the node did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/health` 200, then half a second for the node's psrpc subscriptions, which it makes
    /// asynchronously once up and which nothing outside shows (as [`OwnCluster`] waits).
    fn wait_until_serving(&mut self) {
        let health = self.bed.metrics_url.replace("/metrics", "/health");
        let deadline = Instant::now() + Duration::from_secs(20);
        while health_status(&health) != Some(200) {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the node exited ({status}); see {}", self.log.display());
            }
            assert!(
                Instant::now() < deadline,
                "node not ready: {health}; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The node's directory, without the logs of an earlier run.
fn fresh_dir(bed: &Bed, label: &str) -> PathBuf {
    let dir = bed.dir.join(label);
    std::fs::create_dir_all(&dir).unwrap();
    for log in ["sipbridge.log", "sipbridge.stderr"] {
        let _ = std::fs::remove_file(dir.join(log));
    }
    dir
}

/// A log file the process appends to (a restarted node's log follows the first one's).
fn append(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The node's YAML: the cluster's Redis and livekit-server, its own SIP and HTTP sockets and
/// record file, no CPU limit (the tests share a busy two-core machine).
fn node_yaml(
    bed: &Bed,
    cluster: &OwnCluster,
    sip_addr: &str,
    http_addr: &str,
    cdr: &Path,
) -> String {
    format!(
        "mode: cluster\n\
         livekit: {{ url: \"{}\", api_key: {}, api_secret: {} }}\n\
         redis: {{ address: \"{}\" }}\n\
         sip:\n  listen: {{ udp: [\"{sip_addr}\"], tcp: [\"{sip_addr}\"] }}\n  external_ip: 127.0.0.1\n\
         http: {{ listen: \"{http_addr}\" }}\n\
         cdr: {{ path: \"{}\" }}\n\
         limits: {{ max_cpu_utilization: 1.0 }}\n",
        cluster.livekit.url,
        bed.api_key,
        bed.api_secret,
        cluster.redis.addr,
        cdr.display()
    )
}

/// The HTTP status of a GET (`/health`: 200 ready, 429 over the limits, 503 starting or
/// draining), by curl; `None` when nothing answers.
pub fn health_status(url: &str) -> Option<u16> {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .ok()?;
    let code: u16 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .ok()?;
    (code != 0).then_some(code)
}
