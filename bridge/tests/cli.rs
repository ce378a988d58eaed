//! `sipbridge check-config` and start-up failures, through the real binary.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BIN, workspace_file};

fn check_config(file: &std::path::Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .arg("check-config")
        .arg(file)
        .env_remove("LIVEKIT_URL")
        .env_remove("LIVEKIT_API_KEY")
        .env_remove("LIVEKIT_API_SECRET")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.code().unwrap(),
        text(output.stdout),
        text(output.stderr),
    )
}

#[test]
fn check_config_summarises_the_dev_example() {
    let (code, stdout, stderr) = check_config(&workspace_file("config/examples/dev.yaml"), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("dev.yaml: OK"), "{stdout}");
    assert!(
        stdout.contains("udp 127.0.0.1:5060; tcp 127.0.0.1:5060"),
        "{stdout}"
    );
    assert!(
        stdout.contains("local-uas: 127.0.0.1:5090 over udp"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo-room: local-callers -> room sip-demo"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("secret"),
        "the API secret must not be printed: {stdout}"
    );
}

#[test]
fn check_config_takes_the_secret_from_the_environment() {
    let production = workspace_file("config/examples/production.yaml");
    let (code, _, stderr) = check_config(&production, &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("livekit.api_secret: missing (set it here or in LIVEKIT_API_SECRET)"),
        "{stderr}"
    );
    let (code, stdout, stderr) =
        check_config(&production, &[("LIVEKIT_API_SECRET", "s3cr3t-value")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("5000 calls"), "{stdout}");
    assert!(!stdout.contains("s3cr3t-value"));
}

#[test]
fn check_config_reports_a_broken_config_with_its_position() {
    let file = workspace_file("config/tests/broken/bad_cidr.yaml");
    let (code, stdout, stderr) = check_config(&file, &[]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.ends_with(r#"bad_cidr.yaml:12:9: inbound_trunks[0].allowed_addresses[1]: "10.0.0.0/33" is not an IP or CIDR
"#),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let (code, _, stderr) = check_config(std::path::Path::new("/nonexistent/sipbridge.yaml"), &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("/nonexistent/sipbridge.yaml: cannot read:"),
        "{stderr}"
    );
}

#[test]
fn running_without_a_config_is_a_usage_error() {
    let output = Command::new(BIN).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--config FILE is required"));
}
