//! Every file in `config/examples/` is a valid configuration.

#![allow(clippy::unwrap_used)]

use sipbridge_config::{RoomRule, load_str};

#[test]
fn every_example_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            // production.yaml leaves the secret to the environment, as it tells users to.
            let env = |var: &str| (var == "LIVEKIT_API_SECRET").then(|| "from-env".to_owned());
            if let Err(error) = load_str(&path.display().to_string(), &text, env) {
                panic!("{error}");
            }
            loaded.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    loaded.sort();
    assert_eq!(loaded, ["cluster.yaml", "dev.yaml", "production.yaml"]);
}

#[test]
fn dev_example_matches_the_test_bed() {
    // tests/bed/up relies on these values.
    let text = include_str!("../examples/dev.yaml");
    let config = load_str("dev.yaml", text, |_| None).unwrap();
    assert_eq!(config.livekit.url, "ws://127.0.0.1:7880");
    assert_eq!(config.sip.listen.udp[0].to_string(), "127.0.0.1:5060");
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(
        config.outbound_trunks[0].address.to_string(),
        "127.0.0.1:5090"
    );
    assert_eq!(config.inbound_trunks[0].numbers[0].as_str(), "+15550100");
    assert!(
        matches!(&config.dispatch_rules[0].rule, RoomRule::Direct { room, .. } if room == "sip-demo")
    );
}

#[test]
fn environment_overrides_the_file() {
    let text = include_str!("../examples/dev.yaml");
    let env = |var: &str| match var {
        "LIVEKIT_URL" => Some("wss://lk.example.com".to_owned()),
        "LIVEKIT_API_KEY" => Some("k2".to_owned()),
        "LIVEKIT_API_SECRET" => Some("s2".to_owned()),
        _ => None,
    };
    let config = load_str("dev.yaml", text, env).unwrap();
    assert_eq!(config.livekit.url, "wss://lk.example.com");
    assert_eq!(config.livekit.api_key, "k2");
    assert_eq!(config.livekit.api_secret.expose(), "s2");
    assert!(
        !format!("{config:?}").contains("s2"),
        "the secret must not appear in Debug output"
    );
}

#[test]
fn an_empty_file_needs_only_the_livekit_credentials_and_an_address() {
    let env = |var: &str| match var {
        "LIVEKIT_URL" => Some("ws://127.0.0.1:7880".to_owned()),
        "LIVEKIT_API_KEY" | "LIVEKIT_API_SECRET" => Some("x".to_owned()),
        _ => None,
    };
    let config = load_str("empty.yaml", "# nothing\n", env).unwrap_err();
    assert_eq!(
        config.to_string(),
        "empty.yaml: sip.external_ip: required because sip.listen.udp[0] is 0.0.0.0:5060: the bridge cannot tell which of this host's addresses carriers reach, and Via, Contact and SDP must name it"
    );
    let config = load_str("ok.yaml", "sip: { external_ip: 192.0.2.1 }\n", env).unwrap();
    assert_eq!(config.rtp.port_range.pairs(), 5000);
    assert_eq!(config.sip.timers.t1.0.as_millis(), 500);
}

#[test]
fn an_open_inbound_trunk_is_warned_about() {
    let env = |_: &str| Some("ws://x".to_owned());
    let text = "sip: { external_ip: 192.0.2.1 }\ninbound_trunks: [{ id: open }, { id: closed, allowed_addresses: [192.0.2.9] }]\n";
    let config = load_str("open.yaml", text, env).unwrap();
    assert_eq!(
        config.warnings(),
        [
            "inbound_trunks[0] (open): accepts calls from any address without authentication; set allowed_addresses or auth"
        ]
    );
}
