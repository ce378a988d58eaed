//! `mode:` and the `redis:` block: livekit-server's block loads as copied from its livekit.yaml,
//! is resolved as livekit-server resolves it, and what sipbridge does not use is warned about.

#![allow(clippy::unwrap_used)]

use sipbridge_config::{Config, Mode, RedisTls, load_str};

const BASE: &str = "livekit: { url: ws://127.0.0.1:7880, api_key: k, api_secret: s }\n\
                    sip: { listen: { udp: [\"127.0.0.1:5060\"] } }\n";

fn load(text: &str, env: &[(&str, &str)]) -> Config {
    let lookup = |var: &str| {
        env.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    };
    match load_str("test.yaml", &format!("{BASE}{text}"), lookup) {
        Ok(config) => config,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn the_cluster_example_is_a_single_redis() {
    let text = include_str!("../examples/cluster.yaml");
    let config = load_str("cluster.yaml", text, |_| None).unwrap();
    assert_eq!(config.mode, Mode::Cluster);
    let redis = config.redis.as_ref().unwrap();
    assert_eq!(redis.address.as_deref(), Some("127.0.0.1:6379"));
    assert!(redis.sentinel.is_none() && redis.tls.is_none() && redis.password.is_none());
    assert_eq!(config.warnings(), Vec::<String>::new());
}

#[test]
fn the_mode_is_standalone_by_default() {
    let config = load("", &[]);
    assert_eq!(config.mode, Mode::Standalone);
    assert!(config.redis.is_none());
}

/// The sentinel and TLS form of livekit-server's block, as its config-sample.yaml shows it,
/// with the tuning keys livekit-server also has.
#[test]
fn livekit_servers_sentinel_block_loads_as_copied() {
    let block = "mode: cluster
redis:
  address: ignored.example:6379
  username: lk
  password: redis-pass
  db: 2
  sentinel_master_name: livekit
  sentinel_addresses:
    - livekit-redis-node-0.livekit-redis-headless:26379
    - livekit-redis-node-1.livekit-redis-headless:26379
  sentinel_username: user
  sentinel_password: sentinel-pass
  tls:
    enabled: true
    insecure: false
    ca_cert_file: /path/to/ca.crt
    client_cert_file: /path/to/client.crt
    client_key_file: /path/to/client.key
  dial_timeout: 2000
  pool_size: 10
  pool_timeout: 5s
";
    let config = load(block, &[]);
    let redis = config.redis.as_ref().unwrap();
    // livekit-server uses the sentinels when both are given.
    assert_eq!(redis.address, None);
    assert_eq!(redis.username.as_deref(), Some("lk"));
    assert_eq!(redis.password.as_ref().unwrap().expose(), "redis-pass");
    assert_eq!(redis.db, 2);
    let sentinel = redis.sentinel.as_ref().unwrap();
    assert_eq!(sentinel.master_name, "livekit");
    assert_eq!(sentinel.addresses.len(), 2);
    assert_eq!(sentinel.username.as_deref(), Some("user"));
    assert_eq!(
        sentinel.password.as_ref().unwrap().expose(),
        "sentinel-pass"
    );
    assert_eq!(
        redis.tls,
        Some(RedisTls {
            ca_cert_file: Some("/path/to/ca.crt".into()),
            client_cert_file: Some("/path/to/client.crt".into()),
            client_key_file: Some("/path/to/client.key".into()),
            insecure: false,
        })
    );
    assert_eq!(
        config.warnings(),
        [
            "redis.address: ignored because sentinel_addresses is set (as in livekit-server)",
            "redis.dial_timeout: ignored: a livekit-server connection setting sipbridge does not use",
            "redis.pool_timeout: ignored: a livekit-server connection setting sipbridge does not use",
            "redis.pool_size: ignored: a livekit-server connection setting sipbridge does not use",
        ]
    );
    let printed = format!("{config:?}");
    assert!(
        !printed.contains("redis-pass") && !printed.contains("sentinel-pass"),
        "passwords must not appear in Debug output: {printed}"
    );
}

#[test]
fn tls_is_on_with_use_tls_or_tls_enabled_as_in_livekit_server() {
    let use_tls = load(
        "mode: cluster\nredis: { address: r:6379, use_tls: true }\n",
        &[],
    );
    assert_eq!(use_tls.redis.unwrap().tls, Some(RedisTls::default()));

    let insecure =
        "mode: cluster\nredis: { address: r:6379, tls: { enabled: true, insecure: true } }\n";
    let tls = load(insecure, &[]).redis.unwrap().tls.unwrap();
    assert!(tls.insecure && tls.ca_cert_file.is_none());

    // A tls: block without enabled: true is ignored by livekit-server, and so here, with a warning.
    let disabled = "mode: cluster\nredis: { address: r:6379, tls: { ca_cert_file: /ca.pem } }\n";
    let config = load(disabled, &[]);
    assert_eq!(config.redis.as_ref().unwrap().tls, None);
    assert_eq!(
        config.warnings(),
        ["redis.tls: ignored without enabled: true (as in livekit-server)"]
    );
}

#[test]
fn a_redis_block_in_standalone_mode_is_only_warned_about() {
    // Not checked either: nothing uses it.
    let config = load("redis: { cluster_addresses: [a:1] }\n", &[]);
    assert_eq!(config.mode, Mode::Standalone);
    assert_eq!(config.warnings(), ["redis: ignored in mode: standalone"]);
}

#[test]
fn the_environment_overrides_address_and_password_in_cluster_mode() {
    let text = "mode: cluster\nredis: { address: file.example:6379, password: from-file }\n";
    let env = [
        ("REDIS_HOST", "env.example:6380"),
        ("REDIS_PASSWORD", "from-env"),
    ];
    let redis = load(text, &env).redis.unwrap();
    assert_eq!(redis.address.as_deref(), Some("env.example:6380"));
    assert_eq!(redis.password.unwrap().expose(), "from-env");

    // In standalone mode the bridge has no use for them.
    let config = load("", &env);
    assert!(config.redis.is_none());
    assert_eq!(config.warnings(), Vec::<String>::new());
}

#[test]
fn empty_strings_are_unset_as_in_livekit_server() {
    let text = "mode: cluster\nredis: { address: r:6379, username: '', password: '', sentinel_master_name: '' }\n";
    let config = load(text, &[]);
    let redis = config.redis.as_ref().unwrap();
    assert!(redis.username.is_none() && redis.password.is_none());
    assert_eq!(config.warnings(), Vec::<String>::new());
}

#[test]
fn sentinel_keys_without_sentinel_addresses_are_warned_about() {
    let text = "mode: cluster\nredis: { address: r:6379, sentinel_master_name: livekit }\n";
    let config = load(text, &[]);
    assert!(config.redis.as_ref().unwrap().sentinel.is_none());
    assert_eq!(
        config.warnings(),
        ["redis.sentinel_master_name: ignored without sentinel_addresses (as in livekit-server)"]
    );
}
