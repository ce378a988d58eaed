//! A livekit-server of a test's own, for tests that must kill it without disturbing the bed's,
//! or that need another version than the bed's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Bed;

#[derive(Debug)]
pub struct OwnLiveKit {
    child: Option<Child>,
    pub url: String,
    dir: PathBuf,
}

impl OwnLiveKit {
    /// Starts livekit-server on 127.0.0.1:`port` (signal) and `udp_port` (media), with the bed's
    /// dev keys, and waits until it answers HTTP.
    pub fn start(bed: &Bed, name: &str, port: u16, udp_port: u16) -> Self {
        Self::start_binary(bed, &bed.livekit_server, name, port, udp_port)
    }

    /// The same with another build of livekit-server (see [`Bed::livekit_server_build`]).
    pub fn start_binary(bed: &Bed, binary: &Path, name: &str, port: u16, udp_port: u16) -> Self {
        Self::start_configured(bed, binary, name, (port, udp_port), "")
    }

    /// The same with `extra` YAML added to its configuration (a `redis:` block, say).
    pub fn start_configured(
        bed: &Bed,
        binary: &Path,
        name: &str,
        (port, udp_port): (u16, u16),
        extra: &str,
    ) -> Self {
        let dir = bed.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "port: {port}\nbind_addresses: [\"127.0.0.1\"]\nrtc:\n  udp_port: {udp_port}\n  tcp_port: 0\n  \
             node_ip: 127.0.0.1\n  use_external_ip: false\n  enable_loopback_candidate: true\n  \
             interfaces:\n    includes: [lo]\nkeys:\n  {}: {}\nlogging:\n  level: warn\n{extra}",
            bed.api_key, bed.api_secret
        );
        let config_path = dir.join("livekit.yaml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join("livekit.log")).unwrap();
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = Self {
            child: Some(child),
            url: format!("ws://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "own livekit-server did not start; see {}",
                server.dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Stops the server as its supervisor would (SIGTERM), and kills it if it has not exited
    /// within `limit` (livekit-server drains: it waits for its rooms to empty).
    pub fn stop(&mut self, limit: Duration) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + limit;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server outright (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnLiveKit {
    fn drop(&mut self) {
        self.kill();
    }
}
