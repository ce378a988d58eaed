//! Helpers for tests that drive the real `sipbridge` binary.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_sipbridge");

pub fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipbridge-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Status code and body of `GET path`.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A running bridge whose JSON log lines (stderr) are read as they come.
pub struct Bridge {
    pub child: Child,
    log: BufReader<std::process::ChildStderr>,
    pub log_lines: Vec<serde_json::Value>,
}

impl Bridge {
    pub fn start(config: &Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = BufReader::new(child.stderr.take().unwrap());
        Self {
            child,
            log,
            log_lines: Vec::new(),
        }
    }

    /// Reads log lines until one has this message; panics if the log ends first.
    pub fn wait_for_log(&mut self, message: &str) -> serde_json::Value {
        loop {
            let mut line = String::new();
            if self.log.read_line(&mut line).unwrap() == 0 {
                panic!(
                    "the bridge exited before logging {message:?}; log: {:#?}",
                    self.log_lines
                );
            }
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                panic!("log line is not JSON: {line}");
            };
            self.log_lines.push(entry.clone());
            if entry["fields"]["message"] == message {
                return entry;
            }
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(status.unwrap().success());
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
