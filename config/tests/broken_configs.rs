//! Each broken config under `tests/broken/` fails with exactly the expected problems: key path,
//! line and column, and a message that says what is wrong.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use sipbridge_config::load_str;

/// Loads `tests/broken/<name>` with the given environment and returns its problems, one per line.
fn problems(name: &str, env: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let lookup = |var: &str| {
        env.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    };
    match load_str(name, &text, lookup) {
        Ok(_) => panic!("{name} was accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn bad_cidr() {
    assert_eq!(
        problems("bad_cidr.yaml", &[]),
        r#"bad_cidr.yaml:12:9: inbound_trunks[0].allowed_addresses[1]: "10.0.0.0/33" is not an IP or CIDR"#
    );
}

#[test]
fn unknown_key() {
    assert_eq!(
        problems("unknown_key.yaml", &[]),
        "unknown_key.yaml:10:5: inbound_trunks[0].allowed_adresses: unknown key `allowed_adresses`, \
         expected one of id, name, numbers, allowed_addresses, allowed_numbers, auth, auth_algorithms, headers_to_attributes, attributes_to_headers, include_headers"
    );
}

#[test]
fn dispatch_rule_naming_an_unknown_trunk() {
    assert_eq!(
        problems("unknown_trunk.yaml", &[]),
        r#"unknown_trunk.yaml:12:26: dispatch_rules[0].trunk_ids[1]: no inbound trunk has id "carier""#
    );
}

#[test]
fn missing_api_secret() {
    assert_eq!(
        problems("missing_secret.yaml", &[]),
        "missing_secret.yaml:2:3: livekit.api_secret: missing (set it here or in LIVEKIT_API_SECRET)"
    );
    // The environment can supply it.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/missing_secret.yaml"),
    )
    .unwrap();
    let config = load_str("x.yaml", &text, |var| {
        (var == "LIVEKIT_API_SECRET").then(|| "s3".into())
    })
    .unwrap();
    assert_eq!(config.livekit.api_secret.expose(), "s3");
}

#[test]
fn bad_environment_url() {
    assert_eq!(
        problems(
            "missing_secret.yaml",
            &[
                ("LIVEKIT_API_SECRET", "s"),
                ("LIVEKIT_URL", "localhost:7880")
            ]
        ),
        r#"environment variable LIVEKIT_URL: livekit.url: "localhost:7880" is not a ws://, wss://, http:// or https:// URL"#
    );
}

#[test]
fn bad_duration() {
    assert_eq!(
        problems("bad_duration.yaml", &[]),
        r#"bad_duration.yaml:9:18: rtp.media_timeout: "15sec" is not a duration (write e.g. 500ms, 30s, 2m, 1h30m)"#
    );
}

#[test]
fn inverted_port_range() {
    assert_eq!(
        problems("inverted_port_range.yaml", &[]),
        "inverted_port_range.yaml:9:22: rtp.port_range.min: 20000 is above max (10000)"
    );
}

#[test]
fn external_ip_required_for_a_wildcard_listener() {
    assert_eq!(
        problems("external_ip_required.yaml", &[]),
        "external_ip_required.yaml:6:3: sip.external_ip: required because sip.listen.udp[0] is 0.0.0.0:5060: \
         the bridge cannot tell which of this host's addresses carriers reach, and Via, Contact and SDP must name it"
    );
}

#[test]
fn duplicate_trunk_id() {
    assert_eq!(
        problems("duplicate_trunk_id.yaml", &[]),
        r#"duplicate_trunk_id.yaml:12:9: outbound_trunks[1].id: "carrier" is already the id of outbound_trunks[0]"#
    );
}

#[test]
fn unknown_codec() {
    assert_eq!(
        problems("unknown_codec.yaml", &[]),
        "unknown_codec.yaml:9:18: rtp.codecs[1]: unknown variant `G729`, expected one of PCMU, PCMA, G722, opus, telephone-event"
    );
}

#[test]
fn bad_listen_address() {
    assert_eq!(
        problems("bad_listen_address.yaml", &[]),
        r#"bad_listen_address.yaml:8:11: sip.listen.tcp[0]: "5060" is not an ip:port address (e.g. 0.0.0.0:5060 or [::]:5060)"#
    );
}

#[test]
fn two_rules_for_one_trunk() {
    assert_eq!(
        problems("two_rules_one_trunk.yaml", &[]),
        r#"two_rules_one_trunk.yaml:15:5: dispatch_rules[1]: serves trunk "carrier" like dispatch_rules[0]: a call must match one rule"#
    );
}

#[test]
fn bad_pin() {
    assert_eq!(
        problems("bad_pin.yaml", &[]),
        r#"bad_pin.yaml:11:35: dispatch_rules[0].rule.direct.pin: "12ab" is not a PIN (DTMF digits 0-9)"#
    );
}

#[test]
fn bad_room_config() {
    assert_eq!(
        problems("bad_room_config.yaml", &[]),
        "bad_room_config.yaml:14:23: dispatch_rules[0].room_config.agents[0].agent_name: empty agent name: name the agent to dispatch\n\
         bad_room_config.yaml:15:25: dispatch_rules[0].room_config.max_participants: 0 admits nobody: leave it out for no limit"
    );
}

#[test]
fn yaml_syntax_error() {
    let message = problems("yaml_syntax.yaml", &[]);
    assert!(message.starts_with("yaml_syntax.yaml:10:"), "{message}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text =
        "livekit: {}\nsip: { listen: { udp: [] , tcp: [] } }\nrtp: { opus_complexity: 11 }\n";
    let error = load_str("many.yaml", text, |_| None).unwrap_err();
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "livekit.url",
            "livekit.api_key",
            "livekit.api_secret",
            "sip.listen",
            "rtp.opus_complexity"
        ]
    );
}

#[test]
fn unknown_mode() {
    assert_eq!(
        problems("bad_mode.yaml", &[]),
        "bad_mode.yaml:1:7: mode: unknown variant `clustered`, expected one of standalone, cluster"
    );
}

#[test]
fn cluster_mode_refuses_trunks_and_rules() {
    assert_eq!(
        problems("cluster_with_trunks.yaml", &[]),
        "cluster_with_trunks.yaml:12:3: inbound_trunks: not used in mode: cluster; trunks and dispatch rules are created through livekit-server's SIP API\n\
         cluster_with_trunks.yaml:14:3: dispatch_rules: not used in mode: cluster; trunks and dispatch rules are created through livekit-server's SIP API"
    );
}

#[test]
fn cluster_mode_needs_redis() {
    assert_eq!(
        problems("cluster_without_redis.yaml", &[]),
        "cluster_without_redis.yaml: redis: required in mode: cluster: the Redis livekit-server uses (copy the redis: block from its livekit.yaml)"
    );
    // livekit-server's REDIS_HOST can stand in for the block.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/cluster_without_redis.yaml"),
    )
    .unwrap();
    let config = load_str("x.yaml", &text, |var| {
        (var == "REDIS_HOST").then(|| "redis.internal:6379".into())
    })
    .unwrap();
    assert_eq!(
        config.redis.unwrap().address.as_deref(),
        Some("redis.internal:6379")
    );
}

#[test]
fn redis_cluster_is_refused() {
    assert_eq!(
        problems("redis_cluster_addresses.yaml", &[]),
        "redis_cluster_addresses.yaml:10:5: redis.cluster_addresses: Redis Cluster is not supported (livekit-server can use one, sipbridge cannot yet); \
         use a single Redis (address) or sentinel (sentinel_addresses)"
    );
}

#[test]
fn redis_sentinel_and_tls_mistakes() {
    assert_eq!(
        problems("redis_bad_sentinel.yaml", &[]),
        r#"redis_bad_sentinel.yaml:7:3: redis.sentinel_master_name: missing: required with sentinel_addresses
redis_bad_sentinel.yaml:7:42: redis.sentinel_addresses[1]: "sentinel-1" is not a host:port (e.g. redis.example.net:6379)
redis_bad_sentinel.yaml:10:18: redis.tls.server_name: not supported: the server's certificate must name the host sipbridge connects to (the address, or the master's address the sentinels give)
redis_bad_sentinel.yaml:9:5: redis.tls.client_key_file: missing: required with client_cert_file"#
    );
}

#[test]
fn bad_redis_host_in_the_environment() {
    assert_eq!(
        problems(
            "cluster_without_redis.yaml",
            &[("REDIS_HOST", "redis.internal")]
        ),
        r#"environment variable REDIS_HOST: redis.address: "redis.internal" is not a host:port (e.g. redis.example.net:6379)"#
    );
}

#[test]
fn bad_ringing_timeout_and_a_pin_on_a_callee_rule() {
    assert_eq!(
        problems("bad_ringing.yaml", &[]),
        "bad_ringing.yaml:11:44: dispatch_rules[0].rule.callee.pin: \"#1\" is not a PIN (DTMF digits 0-9)\n\
         bad_ringing.yaml:12:22: dispatch_rules[0].ringing_timeout: at most 300s"
    );
}
