//! The short summary `sipbridge check-config` prints for a valid config.

use std::fmt::Write;

use sipbridge_config::values::ListenAddr;
use sipbridge_config::{Config, Mode, Redis, RoomRule};

pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let sip = &config.sip;
    let rtp = &config.rtp;
    let join = |addrs: &[ListenAddr]| {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let none_if_empty = |text: String| {
        if text.is_empty() {
            "off".to_owned()
        } else {
            text
        }
    };
    let external = sip
        .external_ip
        .map_or("from listen address".to_owned(), |ip| ip.0.to_string());

    // Writing to a String cannot fail.
    let _ = writeln!(out, "mode      {}", config.mode.as_str());
    let _ = writeln!(
        out,
        "livekit   {} (api key {})",
        config.livekit.url, config.livekit.api_key
    );
    if let (Mode::Cluster, Some(redis)) = (config.mode, &config.redis) {
        let _ = writeln!(out, "redis     {}", redis_line(redis));
    }
    let _ = writeln!(
        out,
        "sip       udp {}; tcp {}; external address {external}",
        none_if_empty(join(&sip.listen.udp)),
        none_if_empty(join(&sip.listen.tcp)),
    );
    let codecs: Vec<&str> = rtp.codecs.iter().map(|c| c.sdp_name()).collect();
    let _ = writeln!(
        out,
        "rtp       ports {}-{} ({} calls); codecs {}",
        rtp.port_range.min,
        rtp.port_range.max,
        rtp.port_range.pairs(),
        codecs.join(" ")
    );
    let served = match config.mode {
        Mode::Standalone => "Twirp livekit.SIP API, /metrics, /health",
        // The SIP API is livekit-server's in cluster mode.
        Mode::Cluster => "/metrics, /health",
    };
    let _ = writeln!(out, "http      {} ({served})", config.http.listen);
    match config.mode {
        Mode::Standalone => {
            trunks(&mut out, config);
            rules(&mut out, config);
        }
        Mode::Cluster => {
            let _ = writeln!(
                out,
                "routing   trunks and dispatch rules from livekit-server's SIP API"
            );
        }
    }
    let _ = writeln!(out, "cdr       {}", config.cdr.path);
    out
}

/// Where the Redis is and how the bridge logs in, without the password.
fn redis_line(redis: &Redis) -> String {
    let mut line = match (&redis.sentinel, &redis.address) {
        (Some(sentinel), _) => format!(
            "sentinel master {} via {}",
            sentinel.master_name,
            sentinel.addresses.join(", ")
        ),
        (None, Some(address)) => address.clone(),
        (None, None) => "no address".to_owned(),
    };
    let _ = write!(line, "; db {}", redis.db);
    if let Some(username) = &redis.username {
        let _ = write!(line, "; user {username}");
    }
    if redis.password.is_some() {
        line.push_str("; password set");
    }
    match &redis.tls {
        None => {}
        Some(tls) if tls.insecure => line.push_str("; TLS without verification"),
        Some(tls) => match &tls.ca_cert_file {
            Some(ca) => {
                let _ = write!(line, "; TLS (CA {ca})");
            }
            None => line.push_str("; TLS"),
        },
    }
    line
}

/// The inbound and outbound trunks, one line each.
fn trunks(out: &mut String, config: &Config) {
    let _ = writeln!(
        out,
        "inbound   {}",
        count(config.inbound_trunks.len(), "trunk")
    );
    for trunk in &config.inbound_trunks {
        let numbers: Vec<&str> = trunk.numbers.iter().map(|n| n.as_str()).collect();
        let numbers = if numbers.is_empty() {
            "any number".to_owned()
        } else {
            numbers.join(" ")
        };
        let sources = count(trunk.allowed_addresses.len(), "allowed network");
        let auth = if trunk.auth.is_some() {
            ", digest auth"
        } else {
            ""
        };
        let _ = writeln!(out, "  {}: {numbers}; {sources}{auth}", trunk.id);
    }
    let _ = writeln!(
        out,
        "outbound  {}",
        count(config.outbound_trunks.len(), "trunk")
    );
    for trunk in &config.outbound_trunks {
        let transport = format!("{:?}", trunk.transport).to_lowercase();
        let _ = writeln!(out, "  {}: {} over {transport}", trunk.id, trunk.address);
    }
}

/// The dispatch rules, one line each.
fn rules(out: &mut String, config: &Config) {
    let _ = writeln!(
        out,
        "dispatch  {}",
        count(config.dispatch_rules.len(), "rule")
    );
    for rule in &config.dispatch_rules {
        let has_pin = rule.rule.pin().is_some();
        let room = match &rule.rule {
            RoomRule::Direct { room, .. } => format!("room {room}"),
            RoomRule::Individual { room_prefix, .. } => {
                format!("a new room {room_prefix}<random> per call")
            }
            RoomRule::Callee { room_prefix, .. } => format!("room {room_prefix}<called number>"),
        };
        let room = if has_pin {
            format!("{room} (PIN)")
        } else {
            room
        };
        let trunks: Vec<String> = rule.trunk_ids.iter().map(ToString::to_string).collect();
        let trunks = if trunks.is_empty() {
            "every trunk".to_owned()
        } else {
            trunks.join(", ")
        };
        let room_config = config.room_config_of(rule);
        let agents: Vec<&str> = room_config
            .iter()
            .flat_map(|config| &config.agents)
            .map(|agent| agent.agent_name.as_str())
            .collect();
        let agents = if agents.is_empty() {
            String::new()
        } else {
            format!(", agents {}", agents.join(", "))
        };
        let waits = match rule.ringing_timeout {
            Some(timeout) if !has_pin => {
                format!(", answered once someone listens (within {timeout})")
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "  {}: {trunks} -> {room}{agents}{waits}", rule.id);
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::summary;

    #[test]
    fn cluster_mode_shows_the_redis_but_never_its_password() {
        let text = include_str!("../../config/examples/cluster.yaml");
        let config = sipbridge_config::load_str("cluster.yaml", text, |_| None).unwrap();
        let printed = summary(&config);
        assert!(printed.contains("mode      cluster\n"), "{printed}");
        assert!(
            printed.contains("redis     127.0.0.1:6379; db 0\n"),
            "{printed}"
        );
        assert!(!printed.contains("inbound"), "{printed}");

        let sentinel = text.replace(
            "  address: 127.0.0.1:6379\n",
            "  password: redis-pass\n  sentinel_master_name: livekit\n  \
             sentinel_addresses: [s0:26379, s1:26379]\n  use_tls: true\n",
        );
        let config = sipbridge_config::load_str("cluster.yaml", &sentinel, |_| None).unwrap();
        let printed = summary(&config);
        assert!(
            printed.contains(
                "redis     sentinel master livekit via s0:26379, s1:26379; db 0; password set; TLS\n"
            ),
            "{printed}"
        );
        assert!(!printed.contains("redis-pass"), "{printed}");
    }

    #[test]
    fn standalone_mode_shows_no_redis() {
        let text = include_str!("../../config/examples/dev.yaml");
        let config = sipbridge_config::load_str("dev.yaml", text, |_| None).unwrap();
        let printed = summary(&config);
        assert!(printed.starts_with("mode      standalone\n"), "{printed}");
        assert!(!printed.contains("redis"), "{printed}");
    }
}
