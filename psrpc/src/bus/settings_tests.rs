//! From settings to the redis crate's clients, without connecting anything.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use redis::ConnectionAddr;

use super::super::BusError;
use super::super::target::Target;
use super::{RedisSettings, SentinelSettings, TlsSettings};

fn direct(settings: &RedisSettings) -> redis::Client {
    match settings.target() {
        Ok(Target::Direct(client)) => *client,
        Ok(Target::Sentinel(_)) => panic!("a sentinel target for {settings:?}"),
        Err(error) => panic!("{error}"),
    }
}

fn settings_error(settings: &RedisSettings) -> String {
    match settings.target() {
        Ok(_) => panic!("{settings:?} accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn one_redis_with_credentials_and_a_database() {
    let settings = RedisSettings {
        username: Some("sip".into()),
        password: Some("pa:ss@word/#".into()),
        db: 3,
        ..RedisSettings::address("redis.example.net:6380")
    };
    let client = direct(&settings);
    let info = client.get_connection_info();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            assert_eq!((host.as_str(), *port), ("redis.example.net", 6380))
        }
        other => panic!("{other:?}"),
    }
    let login = info.redis_settings();
    assert_eq!(login.username(), Some("sip"));
    // Given as is, not through a URL: nothing to escape.
    assert_eq!(login.password(), Some("pa:ss@word/#"));
    assert_eq!(login.db(), 3);
}

#[test]
fn tls_with_and_without_verification() {
    let tls = |insecure| RedisSettings {
        tls: Some(TlsSettings {
            insecure,
            ..TlsSettings::default()
        }),
        ..RedisSettings::address("[2001:db8::7]:6379")
    };
    for insecure in [false, true] {
        let client = direct(&tls(insecure));
        match client.get_connection_info().addr() {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: not_verified,
                ..
            } => {
                assert_eq!((host.as_str(), *port), ("2001:db8::7", 6379));
                assert_eq!(*not_verified, insecure);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn addresses_must_be_host_and_port() {
    for bad in [
        "redis",
        "redis:",
        ":6379",
        "redis:0",
        "redis:70000",
        "2001:db8::7:6379",
        "[::1:6379",
    ] {
        assert_eq!(
            settings_error(&RedisSettings::address(bad)),
            format!("redis settings: address {bad:?} is not host:port")
        );
    }
    assert_eq!(
        settings_error(&RedisSettings::default()),
        "redis settings: no Redis address and no sentinels"
    );
}

#[test]
fn an_unreadable_certificate_file_is_named() {
    let settings = RedisSettings {
        tls: Some(TlsSettings {
            ca_cert_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..TlsSettings::default()
        }),
        ..RedisSettings::address("redis:6379")
    };
    let error = settings.target().err().unwrap();
    assert!(matches!(error, BusError::File { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/ca.pem: cannot read:"),
        "{error}"
    );
    let half_client_pair = RedisSettings {
        tls: Some(TlsSettings {
            client_cert_file: Some(PathBuf::from("/etc/client.pem")),
            ..TlsSettings::default()
        }),
        ..RedisSettings::address("redis:6379")
    };
    assert_eq!(
        settings_error(&half_client_pair),
        "redis settings: tls: a client certificate needs its key, and a key its certificate"
    );
}

#[test]
fn sentinels_need_a_master_name_and_addresses() {
    let sentinel = |master_name: &str, addresses: &[&str]| RedisSettings {
        sentinel: Some(SentinelSettings {
            master_name: master_name.into(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            ..SentinelSettings::default()
        }),
        ..RedisSettings::default()
    };
    assert!(matches!(
        sentinel("livekit", &["s0:26379", "s1:26379"]).target(),
        Ok(Target::Sentinel(_))
    ));
    assert_eq!(
        settings_error(&sentinel("", &["s0:26379"])),
        "redis settings: sentinel: needs a master name and at least one address"
    );
    assert_eq!(
        settings_error(&sentinel("livekit", &[])),
        "redis settings: sentinel: needs a master name and at least one address"
    );
    assert_eq!(
        settings_error(&sentinel("livekit", &["s0"])),
        r#"redis settings: sentinel address "s0" is not host:port"#
    );
}

#[test]
fn passwords_do_not_print() {
    let settings = RedisSettings {
        password: Some("redis-secret".into()),
        sentinel: Some(SentinelSettings {
            password: Some("sentinel-secret".into()),
            ..SentinelSettings::default()
        }),
        ..RedisSettings::default()
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains(r#"password: Some("***")"#), "{printed}");
}
