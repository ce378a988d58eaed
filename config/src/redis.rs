//! `redis:` — the Redis that livekit-server and its SIP nodes share in `mode: cluster`.
//!
//! The keys are livekit-server's own (`RedisConfig` in livekit/protocol `redis/redis.go`, and
//! its `tls:` block, `xtls/tls.go`), so that operators can copy the block from their
//! livekit.yaml unchanged; keys livekit-server has and sipbridge does not use are accepted and
//! warned about rather than refused.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::values::Secret;

/// The resolved block: what to connect to and how.
#[derive(Clone, Debug)]
pub struct Redis {
    /// `host:port` of the one Redis; `None` with `sentinel`, which then finds the master.
    pub address: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub db: u32,
    /// On with `use_tls: true` (TLS with the system's roots) or `tls: { enabled: true, ... }`;
    /// applies to the sentinels too, as in livekit-server.
    pub tls: Option<RedisTls>,
    /// From `sentinel_master_name`, `sentinel_addresses`, `sentinel_username`,
    /// `sentinel_password`: set when `sentinel_addresses` is not empty.
    pub sentinel: Option<RedisSentinel>,
    /// Keys the file gave that do not apply (livekit-server tuning knobs, or settings livekit
    /// itself ignores in this combination); `Config::warnings` names them.
    pub ignored_keys: Vec<&'static str>,
}

/// `redis.tls`, when `enabled`; all unset for `use_tls: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM file of the roots that verify the server; the system's roots when unset.
    pub ca_cert_file: Option<String>,
    /// PEM client certificate and key for mutual TLS: both or neither.
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    /// No verification of the server's certificate or name (livekit's `insecure`).
    pub insecure: bool,
}

#[derive(Clone, Debug)]
pub struct RedisSentinel {
    pub master_name: String,
    /// `host:port` of each sentinel.
    pub addresses: Vec<String>,
    /// Credentials for the sentinels, when they differ from the master's.
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// As written in the file: livekit-server's keys, flat.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedisFile {
    pub(crate) address: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    #[serde(default)]
    pub(crate) db: u32,
    /// Deprecated in livekit-server in favour of `tls.enabled`, still honoured by both.
    #[serde(default)]
    pub(crate) use_tls: bool,
    pub(crate) tls: Option<RedisTlsFile>,
    pub(crate) sentinel_master_name: Option<String>,
    pub(crate) sentinel_username: Option<String>,
    pub(crate) sentinel_password: Option<Secret>,
    #[serde(default)]
    pub(crate) sentinel_addresses: Vec<String>,
    /// Redis Cluster: livekit-server supports it, sipbridge refuses it (`redis_checks.rs`).
    #[serde(default)]
    pub(crate) cluster_addresses: Vec<String>,
    // livekit-server's connection tuning, accepted so that a copied block loads.
    pub(crate) dial_timeout: Option<IgnoredAny>,
    pub(crate) read_timeout: Option<IgnoredAny>,
    pub(crate) write_timeout: Option<IgnoredAny>,
    pub(crate) max_redirects: Option<IgnoredAny>,
    pub(crate) pool_timeout: Option<IgnoredAny>,
    pub(crate) pool_size: Option<IgnoredAny>,
}

/// livekit's `xtls.Config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedisTlsFile {
    #[serde(default)]
    pub(crate) enabled: bool,
    #[serde(default)]
    pub(crate) insecure: bool,
    /// Refused: the redis crate verifies the name it connects to (`redis_checks.rs`).
    pub(crate) server_name: Option<String>,
    pub(crate) ca_cert_file: Option<String>,
    pub(crate) client_cert_file: Option<String>,
    pub(crate) client_key_file: Option<String>,
}

impl RedisFile {
    /// The block as the bridge uses it, choosing as livekit-server does: sentinels when
    /// `sentinel_addresses` is given, else `address`; `tls` when enabled, else `use_tls`.
    pub(crate) fn resolve(self) -> Redis {
        let ignored_keys = self.ignored_keys();
        let sentinel = (!self.sentinel_addresses.is_empty()).then(|| RedisSentinel {
            master_name: self.sentinel_master_name.unwrap_or_default(),
            addresses: self.sentinel_addresses,
            username: given(self.sentinel_username),
            password: given_secret(self.sentinel_password),
        });
        let tls = match self.tls.filter(|tls| tls.enabled) {
            Some(tls) => Some(RedisTls {
                ca_cert_file: given(tls.ca_cert_file),
                client_cert_file: given(tls.client_cert_file),
                client_key_file: given(tls.client_key_file),
                insecure: tls.insecure,
            }),
            None => self.use_tls.then(RedisTls::default),
        };
        Redis {
            address: given(self.address).filter(|_| sentinel.is_none()),
            username: given(self.username),
            password: given_secret(self.password),
            db: self.db,
            tls,
            sentinel,
            ignored_keys,
        }
    }

    fn ignored_keys(&self) -> Vec<&'static str> {
        let set = |value: &Option<String>| value.as_ref().is_some_and(|v| !v.is_empty());
        let set_secret =
            |value: &Option<Secret>| value.as_ref().is_some_and(|v| !v.expose().is_empty());
        let with_sentinels = !self.sentinel_addresses.is_empty();
        let ignored = [
            ("address", with_sentinels && set(&self.address)),
            (
                "sentinel_master_name",
                !with_sentinels && set(&self.sentinel_master_name),
            ),
            (
                "sentinel_username",
                !with_sentinels && set(&self.sentinel_username),
            ),
            (
                "sentinel_password",
                !with_sentinels && set_secret(&self.sentinel_password),
            ),
            ("tls", self.tls.as_ref().is_some_and(|tls| !tls.enabled)),
            ("dial_timeout", self.dial_timeout.is_some()),
            ("read_timeout", self.read_timeout.is_some()),
            ("write_timeout", self.write_timeout.is_some()),
            ("max_redirects", self.max_redirects.is_some()),
            ("pool_timeout", self.pool_timeout.is_some()),
            ("pool_size", self.pool_size.is_some()),
        ];
        ignored
            .into_iter()
            .filter_map(|(key, ignored)| ignored.then_some(key))
            .collect()
    }
}

/// Why `redis.<key>` is ignored, for `Config::warnings`.
pub(crate) fn ignored_key_warning(key: &str) -> String {
    let why = match key {
        "address" => "ignored because sentinel_addresses is set (as in livekit-server)",
        "sentinel_master_name" | "sentinel_username" | "sentinel_password" => {
            "ignored without sentinel_addresses (as in livekit-server)"
        }
        "tls" => "ignored without enabled: true (as in livekit-server)",
        _ => "ignored: a livekit-server connection setting sipbridge does not use",
    };
    format!("redis.{key}: {why}")
}

/// livekit-server treats an empty string as unset (its keys are `omitempty`).
fn given(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.is_empty())
}

fn given_secret(value: Option<Secret>) -> Option<Secret> {
    value.filter(|value| !value.expose().is_empty())
}
