//! Where the bus finds Redis and how it logs in: one server, or the master a set of sentinels
//! names; credentials; TLS. These are the parts of livekit-server's `redis:` block that psrpc
//! needs, kept free of the config crate so that psrpc stays a library of its own.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{
    Client, ClientTlsConfig, ConnectionAddr, IntoConnectionInfo as _, RedisConnectionInfo,
    TlsCertificates, TlsMode,
};

use super::BusError;
use super::target::Target;

#[derive(Clone, Default)]
pub struct RedisSettings {
    /// `host:port` of the one Redis; not used with `sentinel`.
    pub address: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    /// TLS to Redis and, with `sentinel`, to the sentinels (as livekit-server does).
    pub tls: Option<TlsSettings>,
    pub sentinel: Option<SentinelSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM roots that verify the server; the system's roots when unset.
    pub ca_cert_file: Option<PathBuf>,
    /// PEM client certificate and key for mutual TLS (both or neither).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// No verification of the server's certificate or name. Behind sentinels the master's
    /// connection then presents no client certificate (the redis crate drops it).
    pub insecure: bool,
}

#[derive(Clone, Default)]
pub struct SentinelSettings {
    pub master_name: String,
    /// `host:port` of each sentinel.
    pub addresses: Vec<String>,
    /// Credentials for the sentinels themselves, when they have any.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl RedisSettings {
    /// A single Redis at `address`, without credentials or TLS.
    pub fn address(address: impl Into<String>) -> Self {
        Self {
            address: Some(address.into()),
            ..Self::default()
        }
    }

    /// How to reach Redis, with the TLS files read. Nothing is connected yet.
    pub(super) fn target(&self) -> Result<Target, BusError> {
        let tls = self.tls.as_ref().map(TlsSettings::load).transpose()?;
        match &self.sentinel {
            None => {
                let address = self.address.as_deref().ok_or_else(|| {
                    BusError::Settings("no Redis address and no sentinels".into())
                })?;
                let addr = connection_addr("address", address, tls.as_ref())?;
                let info = addr
                    .into_connection_info()?
                    .set_redis_settings(self.login());
                let client = match tls {
                    Some(tls) => Client::build_with_tls(info, tls.certificates)?,
                    None => Client::open(info)?,
                };
                Ok(Target::Direct(Box::new(client)))
            }
            Some(sentinel) => self.sentinel_target(sentinel, tls),
        }
    }

    fn sentinel_target(
        &self,
        sentinel: &SentinelSettings,
        tls: Option<LoadedTls>,
    ) -> Result<Target, BusError> {
        if sentinel.master_name.is_empty() || sentinel.addresses.is_empty() {
            return Err(BusError::Settings(
                "sentinel: needs a master name and at least one address".into(),
            ));
        }
        let sentinels = sentinel
            .addresses
            .iter()
            .map(|address| connection_addr("sentinel address", address, tls.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = SentinelClientBuilder::new(
            sentinels,
            &sentinel.master_name,
            SentinelServerType::Master,
        )?
        .set_client_to_redis_db(i64::from(self.db));
        if let Some(username) = &self.username {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(username) = &sentinel.username {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = &sentinel.password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if let Some(tls) = tls {
            let mode = if tls.insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            };
            builder = builder
                .set_client_to_redis_tls_mode(mode)
                .set_client_to_sentinel_tls_mode(mode)
                .set_client_to_redis_certificates(tls.certificates.clone())
                .set_client_to_sentinel_certificates(tls.certificates);
        }
        let client = builder.build()?;
        Ok(Target::Sentinel(Arc::new(tokio::sync::Mutex::new(client))))
    }

    /// Username, password and database, for the connection to the one Redis.
    fn login(&self) -> RedisConnectionInfo {
        let mut login = RedisConnectionInfo::default().set_db(i64::from(self.db));
        if let Some(username) = &self.username {
            login = login.set_username(username);
        }
        if let Some(password) = &self.password {
            login = login.set_password(password);
        }
        login
    }
}

/// TLS settings with the PEM files read.
struct LoadedTls {
    certificates: TlsCertificates,
    insecure: bool,
}

impl TlsSettings {
    fn load(&self) -> Result<LoadedTls, BusError> {
        install_crypto_provider();
        let client_tls = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read(cert)?,
                client_key: read(key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(BusError::Settings(
                    "tls: a client certificate needs its key, and a key its certificate".into(),
                ));
            }
        };
        let root_cert = self.ca_cert_file.as_deref().map(read).transpose()?;
        Ok(LoadedTls {
            certificates: TlsCertificates {
                client_tls,
                root_cert,
            },
            insecure: self.insecure,
        })
    }
}

/// The redis crate builds its TLS on rustls without choosing rustls's cryptography; aws-lc-rs
/// is the one the rest of the tree already builds. A provider installed before (by anyone) stays.
pub(super) fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn read(path: &Path) -> Result<Vec<u8>, BusError> {
    std::fs::read(path).map_err(|source| BusError::File {
        path: path.to_owned(),
        source,
    })
}

/// `host:port` (`[v6]:port` for an IPv6 literal) as a TCP or TLS address; `what` names it in
/// the error.
fn connection_addr(
    what: &str,
    text: &str,
    tls: Option<&LoadedTls>,
) -> Result<ConnectionAddr, BusError> {
    let bad = || BusError::Settings(format!("{what} {text:?} is not host:port"));
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() {
        return Err(bad());
    }
    let host = host.to_owned();
    Ok(match tls {
        None => ConnectionAddr::Tcp(host, port),
        Some(tls) => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: tls.insecure,
            tls_params: None,
        },
    })
}

/// Passwords never show.
impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .field("tls", &self.tls)
            .field("sentinel", &self.sentinel)
            .finish()
    }
}

impl fmt::Debug for SentinelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelSettings")
            .field("master_name", &self.master_name)
            .field("addresses", &self.addresses)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
