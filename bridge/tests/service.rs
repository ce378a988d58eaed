//! The real binary: `/health`, `/metrics`, clean shutdown on SIGTERM/SIGINT, and a port
//! conflict that names the config key.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;

use common::{Bridge, http_get, temp_dir};

const SECRET: &str = "never-log-this-secret-value";

/// A config listening on ephemeral ports (`http` picks the HTTP address). No CPU limit: above
/// it `/health` says 429, and a busy test machine must not decide these tests.
fn write_config(name: &str, http: &str) -> PathBuf {
    let dir = temp_dir(name);
    let path = dir.join("config.yaml");
    let text = format!(
        "livekit: {{ url: ws://127.0.0.1:7880, api_key: devkey, api_secret: {SECRET} }}\n\
         sip: {{ listen: {{ udp: [\"127.0.0.1:0\"], tcp: [\"127.0.0.1:0\"] }}, external_ip: 127.0.0.1 }}\n\
         http: {{ listen: \"{http}\" }}\n\
         cdr: {{ path: {} }}\n\
         logging: {{ level: debug, json: true }}\n\
         shutdown: {{ drain_timeout: 2s }}\n\
         limits: {{ max_cpu_utilization: 1.0 }}\n",
        dir.join("cdr.jsonl").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn serves_health_and_metrics_then_stops_on_sigterm() {
    let mut bridge = Bridge::start(&write_config("serve", "127.0.0.1:0"));
    let ready = bridge.wait_for_log("sipbridge ready");
    let addr = ready["fields"]["http"].as_str().unwrap().to_owned();

    assert_eq!(http_get(&addr, "/health"), (200, "ready\n".to_owned()));
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    for expected in [
        format!(
            "sipbridge_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
        "sipbridge_active_calls 0".to_owned(),
        "process_cpu_seconds_total ".to_owned(),
        "process_resident_memory_bytes ".to_owned(),
        "# EOF".to_owned(),
    ] {
        assert!(
            metrics.contains(&expected),
            "/metrics lacks {expected:?}:\n{metrics}"
        );
    }
    assert_eq!(http_get(&addr, "/nowhere").0, 404);

    bridge.signal("TERM");
    bridge.wait_for_log("draining");
    bridge.wait_for_log("sipbridge stopped");
    let status = bridge.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let log = format!("{:?}", bridge.log_lines);
    assert!(!log.contains(SECRET), "the API secret appeared in the log");
}

#[test]
fn stops_on_sigint_too() {
    let mut bridge = Bridge::start(&write_config("sigint", "127.0.0.1:0"));
    bridge.wait_for_log("sipbridge ready");
    bridge.signal("INT");
    bridge.wait_for_log("sipbridge stopped");
    assert!(bridge.child.wait().unwrap().success());
}

#[test]
fn a_port_in_use_fails_start_up_naming_the_key() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(write_config("port-in-use", &addr))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (http.listen): ")),
        "{stderr}"
    );
}
