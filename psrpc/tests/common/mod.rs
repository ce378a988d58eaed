//! redis-server processes of a test's own (plain, replica, sentinel, TLS) on free ports of
//! 127.0.0.1, each stopped when dropped, and a scratch directory for their files. Outside CI a
//! missing redis-server skips the test with the reason printed; in CI (CI=true) it fails it.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Process {
    child: Child,
    pub port: u16,
}

impl Process {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-server` with `args`, once it accepts TCP connections on `port`; `None` (with the
/// reason printed) when redis-server cannot start, outside CI.
pub fn redis_server(test: &str, port: u16, args: &[&str]) -> Option<Process> {
    let spawned = Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{test}: redis-server cannot start: {error}")
        }
        Err(error) => {
            eprintln!("SKIPPED {test}: redis-server cannot start ({error}); run tests/bed/setup");
            return None;
        }
    };
    let process = Process { child, port };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{test}: redis-server {args:?} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(process)
}

/// A Redis without persistence on a free port, its files (if any) in `dir`; `extra` arguments
/// follow (e.g. `--replicaof`).
pub fn plain(test: &str, dir: &Scratch, extra: &[&str]) -> Option<Process> {
    plain_on(test, free_port(), dir, extra)
}

/// [`plain`] on `port` (e.g. to start a Redis again where it was).
pub fn plain_on(test: &str, port: u16, dir: &Scratch, extra: &[&str]) -> Option<Process> {
    let port_text = port.to_string();
    let dir_text = dir.path().display().to_string();
    let mut args = vec![
        "--port",
        &port_text,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir_text,
    ];
    args.extend_from_slice(extra);
    redis_server(test, port, &args)
}

/// A sentinel watching `master` under the name `master_name`, quick to declare it down.
pub fn sentinel(test: &str, dir: &Scratch, master_name: &str, master: &Process) -> Option<Process> {
    let port = free_port();
    // Sentinel rewrites its config file, so it must be a file of its own.
    let config = dir.path().join(format!("sentinel-{port}.conf"));
    let text = format!(
        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
         sentinel monitor {master_name} 127.0.0.1 {master_port} 1\n\
         sentinel down-after-milliseconds {master_name} 500\n\
         sentinel failover-timeout {master_name} 3000\n",
        dir = dir.path().display(),
        master_port = master.port,
    );
    std::fs::write(&config, text).unwrap();
    redis_server(test, port, &[&config.display().to_string(), "--sentinel"])
}

/// A directory of the test's own, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sipbridge-psrpc-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
