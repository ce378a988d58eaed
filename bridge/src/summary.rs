//! The short summary `sipbridge check-config` prints for a valid config.

use std::fmt::Write;

use sipbridge_config::values::ListenAddr;
use sipbridge_config::{Config, RoomRule};

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
    let _ = writeln!(
        out,
        "livekit   {} (api key {})",
        config.livekit.url, config.livekit.api_key
    );
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
    let _ = writeln!(
        out,
        "http      {} (Twirp livekit.SIP API, /metrics, /health)",
        config.http.listen
    );
    trunks(&mut out, config);
    rules(&mut out, config);
    let _ = writeln!(out, "cdr       {}", config.cdr.path);
    out
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
        let room = match &rule.rule {
            RoomRule::Direct { room, pin } => {
                format!("room {room}{}", if pin.is_some() { " (PIN)" } else { "" })
            }
            RoomRule::Individual { room_prefix } => {
                format!("a new room {room_prefix}<random> per call")
            }
            RoomRule::Callee { room_prefix } => format!("room {room_prefix}<called number>"),
        };
        let trunks: Vec<String> = rule.trunk_ids.iter().map(ToString::to_string).collect();
        let trunks = if trunks.is_empty() {
            "every trunk".to_owned()
        } else {
            trunks.join(", ")
        };
        let _ = writeln!(out, "  {}: {trunks} -> {room}", rule.id);
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
