//! The `redis:` block from file and environment to [`Redis`], with its checks. The environment
//! variables are livekit-server's own, `REDIS_HOST` (host:port) and `REDIS_PASSWORD`. Both they
//! and the checks apply only in `mode: cluster`: in standalone mode nothing uses Redis, so the
//! block is only warned about (`Config::warnings`).

use crate::mode::Mode;
use crate::redis::{Redis, RedisFile};
use crate::validate::Finding;
use crate::values::{HostPort, Secret};

const HOST_VAR: &str = "REDIS_HOST";
const PASSWORD_VAR: &str = "REDIS_PASSWORD";

pub(crate) fn resolve(
    file: Option<RedisFile>,
    mode: Mode,
    env: &impl Fn(&str) -> Option<String>,
    findings: &mut Vec<Finding>,
) -> Option<Redis> {
    if mode == Mode::Standalone {
        return file.map(RedisFile::resolve);
    }
    let given = |var| env(var).filter(|value: &String| !value.is_empty());
    let (host, password) = (given(HOST_VAR), given(PASSWORD_VAR));
    if file.is_none() && host.is_none() && password.is_none() {
        // validate.rs reports the missing block.
        return None;
    }
    let mut file = file.unwrap_or_default();
    let address_var = host.as_ref().map(|_| HOST_VAR);
    if let Some(host) = host {
        file.address = Some(host);
    }
    if let Some(password) = password {
        file.password = Some(Secret::new(password));
    }
    check(&file, address_var, findings);
    Some(file.resolve())
}

fn check(file: &RedisFile, address_var: Option<&'static str>, findings: &mut Vec<Finding>) {
    if !file.cluster_addresses.is_empty() {
        findings.push(Finding::new(
            "redis.cluster_addresses",
            "Redis Cluster is not supported (livekit-server can use one, sipbridge cannot yet); \
             use a single Redis (address) or sentinel (sentinel_addresses)",
        ));
    }
    let master_name = file.sentinel_master_name.as_deref().unwrap_or_default();
    if !file.sentinel_addresses.is_empty() {
        if master_name.is_empty() {
            findings.push(Finding::new(
                "redis.sentinel_master_name",
                "missing: required with sentinel_addresses",
            ));
        }
        for (i, address) in file.sentinel_addresses.iter().enumerate() {
            check_host_port(
                &format!("redis.sentinel_addresses[{i}]"),
                address,
                None,
                findings,
            );
        }
    } else if file.cluster_addresses.is_empty() {
        match file
            .address
            .as_deref()
            .filter(|address| !address.is_empty())
        {
            Some(address) => check_host_port("redis.address", address, address_var, findings),
            None => findings.push(Finding::new(
                "redis.address",
                format!(
                    "missing: give the host:port of the Redis livekit-server uses (here or in \
                     {HOST_VAR}), or sentinel_addresses and sentinel_master_name"
                ),
            )),
        }
    }
    let Some(tls) = file.tls.as_ref().filter(|tls| tls.enabled) else {
        return;
    };
    if tls
        .server_name
        .as_ref()
        .is_some_and(|name| !name.is_empty())
    {
        findings.push(Finding::new(
            "redis.tls.server_name",
            "not supported: the server's certificate must name the host sipbridge connects to \
             (the address, or the master's address the sentinels give)",
        ));
    }
    let set = |value: &Option<String>| value.as_ref().is_some_and(|v| !v.is_empty());
    match (set(&tls.client_cert_file), set(&tls.client_key_file)) {
        (true, false) => findings.push(Finding::new(
            "redis.tls.client_key_file",
            "missing: required with client_cert_file",
        )),
        (false, true) => findings.push(Finding::new(
            "redis.tls.client_cert_file",
            "missing: required with client_key_file",
        )),
        _ => {}
    }
}

/// A Redis address is `host:port` with the port, as livekit-server (go-redis) requires.
fn check_host_port(key: &str, text: &str, var: Option<&'static str>, findings: &mut Vec<Finding>) {
    let is_host_port = text
        .parse::<HostPort>()
        .is_ok_and(|host_port| host_port.port.is_some());
    if !is_host_port {
        let message = format!("{text:?} is not a host:port (e.g. redis.example.net:6379)");
        let finding = Finding::new(key, message);
        findings.push(match var {
            Some(var) => finding.with_env(var),
            None => finding,
        });
    }
}
