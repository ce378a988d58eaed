//! Checks that span more than one value: ranges, references between sections, unique ids, and
//! settings the bridge cannot honour. Each finding names the key path it is about.

use std::collections::HashSet;

use crate::Config;
use crate::dispatch::{RoomConfig, RoomRule};
use crate::mode::Mode;
use crate::trunks::Credentials;
use crate::values::{Duration, Id, is_dns_name};

pub(crate) struct Finding {
    pub(crate) key: String,
    /// Set when the value came from this environment variable rather than the file.
    pub(crate) env: Option<&'static str>,
    pub(crate) message: String,
}

impl Finding {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            env: None,
            message: message.into(),
        }
    }
    pub(crate) fn with_env(self, var: &'static str) -> Self {
        Self {
            env: Some(var),
            ..self
        }
    }
}

pub(crate) fn check(config: &Config, findings: &mut Vec<Finding>) {
    let mut report = |key: String, message: String| findings.push(Finding::new(key, message));
    check_mode(config, &mut report);
    check_sip(config, &mut report);
    check_rtp(config, &mut report);
    check_service(config, &mut report);
    check_trunks(config, &mut report);
    check_dispatch_rules(config, &mut report);
}

type Report<'a> = dyn FnMut(String, String) + 'a;

/// In cluster mode livekit-server owns trunks and rules and reaches the bridge through Redis.
/// (The `redis:` block itself is checked where it is resolved, `redis_checks.rs`.)
fn check_mode(config: &Config, report: &mut Report<'_>) {
    if config.mode != Mode::Cluster {
        return;
    }
    if config.redis.is_none() {
        report(
            "redis".into(),
            "required in mode: cluster: the Redis livekit-server uses (copy the redis: block \
             from its livekit.yaml)"
                .into(),
        );
    }
    let own_routing = [
        ("inbound_trunks", config.inbound_trunks.is_empty()),
        ("outbound_trunks", config.outbound_trunks.is_empty()),
        ("dispatch_rules", config.dispatch_rules.is_empty()),
    ];
    for (key, empty) in own_routing {
        if !empty {
            report(
                key.into(),
                "not used in mode: cluster; trunks and dispatch rules are created through \
                 livekit-server's SIP API"
                    .into(),
            );
        }
    }
}

fn check_sip(config: &Config, report: &mut Report<'_>) {
    let sip = &config.sip;
    let listen = &sip.listen;
    if listen.udp.is_empty() && listen.tcp.is_empty() && listen.tls.is_empty() {
        report(
            "sip.listen".into(),
            "no listener: give at least one udp, tcp or tls address".into(),
        );
    }
    if !listen.tls.is_empty() {
        report(
            "sip.listen.tls".into(),
            "the TLS transport is not supported yet; use udp or tcp".into(),
        );
    }
    let unspecified = [
        ("udp", &listen.udp),
        ("tcp", &listen.tcp),
        ("tls", &listen.tls),
    ]
    .into_iter()
    .flat_map(|(name, addrs)| addrs.iter().enumerate().map(move |(i, a)| (name, i, a)))
    .find(|(_, _, addr)| addr.0.ip().is_unspecified());
    if let (None, Some((transport, index, addr))) = (sip.external_ip, unspecified) {
        report(
            "sip.external_ip".into(),
            format!(
                "required because sip.listen.{transport}[{index}] is {addr}: the bridge cannot tell \
                 which of this host's addresses carriers reach, and Via, Contact and SDP must name it"
            ),
        );
    }
    if let Some(hostname) = sip.hostname.as_ref().filter(|name| !is_dns_name(name)) {
        report(
            "sip.hostname".into(),
            format!("{hostname:?} is not a DNS name"),
        );
    }
    check_header_value("sip.user_agent", &sip.user_agent, report);
    let timers = &sip.timers;
    check_positive("sip.timers.t1", timers.t1, report);
    check_positive("sip.timers.t4", timers.t4, report);
    if timers.t2 < timers.t1 {
        report(
            "sip.timers.t2".into(),
            format!("{} is less than t1 ({})", timers.t2, timers.t1),
        );
    }
}

fn check_rtp(config: &Config, report: &mut Report<'_>) {
    let rtp = &config.rtp;
    let range = rtp.port_range;
    if range.min > range.max {
        report(
            "rtp.port_range.min".into(),
            format!("{} is above max ({})", range.min, range.max),
        );
    } else if range.pairs() == 0 {
        report(
            "rtp.port_range".into(),
            format!(
                "{}-{} holds no even RTP port with an RTCP port above it",
                range.min, range.max
            ),
        );
    }
    check_positive("rtp.media_timeout", rtp.media_timeout, report);
    check_positive(
        "rtp.media_timeout_initial",
        rtp.media_timeout_initial,
        report,
    );
    let jitter = rtp.jitter_buffer;
    if jitter.max < jitter.min {
        report(
            "rtp.jitter_buffer.max".into(),
            format!("{} is less than min ({})", jitter.max, jitter.min),
        );
    }
    let mut seen = HashSet::new();
    for (i, codec) in rtp.codecs.iter().enumerate() {
        if !seen.insert(codec) {
            report(
                format!("rtp.codecs[{i}]"),
                format!("{} is listed twice", codec.sdp_name()),
            );
        }
    }
    if !rtp.codecs.iter().any(|codec| codec.is_audio()) {
        report(
            "rtp.codecs".into(),
            "no audio codec: list at least one of PCMU, PCMA, G722, opus".into(),
        );
    }
    if rtp.opus_complexity > 10 {
        report(
            "rtp.opus_complexity".into(),
            format!("{} is not in 0..=10", rtp.opus_complexity),
        );
    }
}

fn check_service(config: &Config, report: &mut Report<'_>) {
    let cpu = config.limits.max_cpu_utilization;
    if !(cpu > 0.0 && cpu <= 1.0) {
        report(
            "limits.max_cpu_utilization".into(),
            format!("{cpu} is not a fraction in (0, 1]"),
        );
    }
    if config.limits.max_active_calls == Some(0) {
        report(
            "limits.max_active_calls".into(),
            "0 would refuse every call; leave it unset for no limit".into(),
        );
    }
    if config.cdr.path.trim().is_empty() {
        report(
            "cdr.path".into(),
            "empty: call detail records need a file".into(),
        );
    }
}

fn check_trunks(config: &Config, report: &mut Report<'_>) {
    check_unique_ids(
        "inbound_trunks",
        config.inbound_trunks.iter().map(|t| &t.id),
        report,
    );
    check_unique_ids(
        "outbound_trunks",
        config.outbound_trunks.iter().map(|t| &t.id),
        report,
    );
    for (i, trunk) in config.inbound_trunks.iter().enumerate() {
        if let Some(auth) = &trunk.auth {
            check_credentials(&format!("inbound_trunks[{i}].auth"), auth, report);
        }
        if trunk.auth_algorithms.is_empty() {
            report(
                format!("inbound_trunks[{i}].auth_algorithms"),
                "empty: list SHA-256, MD5 or both".into(),
            );
        }
        for (header, attribute) in &trunk.headers_to_attributes {
            if attribute.trim().is_empty() {
                let key = format!(
                    "inbound_trunks[{i}].headers_to_attributes.{}",
                    header.as_str()
                );
                report(key, "empty attribute name".into());
            }
        }
    }
    for (i, trunk) in config.outbound_trunks.iter().enumerate() {
        if trunk.numbers.is_empty() {
            report(
                format!("outbound_trunks[{i}].numbers"),
                "empty: calls need a From number".into(),
            );
        }
        if let Some(auth) = &trunk.auth {
            check_credentials(&format!("outbound_trunks[{i}].auth"), auth, report);
        }
        for (header, value) in &trunk.headers {
            check_header_value(
                &format!("outbound_trunks[{i}].headers.{}", header.as_str()),
                value,
                report,
            );
        }
    }
}

fn check_dispatch_rules(config: &Config, report: &mut Report<'_>) {
    check_unique_ids(
        "dispatch_rules",
        config.dispatch_rules.iter().map(|r| &r.id),
        report,
    );
    let trunk_ids: HashSet<&Id> = config.inbound_trunks.iter().map(|t| &t.id).collect();
    // Which rule serves each trunk (None: the catch-all rule with no trunk_ids).
    let mut served_by: Vec<(Option<&Id>, usize)> = Vec::new();
    for (i, rule) in config.dispatch_rules.iter().enumerate() {
        let key = format!("dispatch_rules[{i}]");
        for (j, trunk_id) in rule.trunk_ids.iter().enumerate() {
            if !trunk_ids.contains(trunk_id) {
                report(
                    format!("{key}.trunk_ids[{j}]"),
                    format!("no inbound trunk has id \"{trunk_id}\""),
                );
            }
        }
        let served: Vec<Option<&Id>> = if rule.trunk_ids.is_empty() {
            vec![None]
        } else {
            rule.trunk_ids.iter().map(Some).collect()
        };
        for trunk in served {
            if let Some(&(_, other)) = served_by.iter().find(|(t, _)| *t == trunk) {
                let what = trunk.map_or("every trunk (no trunk_ids)".to_owned(), |id| {
                    format!("trunk \"{id}\"")
                });
                report(
                    key.clone(),
                    format!(
                        "serves {what} like dispatch_rules[{other}]: a call must match one rule"
                    ),
                );
            } else {
                served_by.push((trunk, i));
            }
        }
        if let RoomRule::Direct { room, .. } = &rule.rule
            && room.trim().is_empty()
        {
            report(format!("{key}.rule.direct.room"), "empty room name".into());
        }
        let is_pin = |pin: &&str| !pin.is_empty() && pin.bytes().all(|b| b.is_ascii_digit());
        if let Some(pin) = rule.rule.pin().filter(|pin| !is_pin(pin)) {
            report(
                format!("{key}.rule.{}.pin", rule.rule.kind()),
                format!("{pin:?} is not a PIN (DTMF digits 0-9)"),
            );
        }
        if let Some(ringing_timeout) = rule.ringing_timeout {
            let key = format!("{key}.ringing_timeout");
            check_positive(&key, ringing_timeout, report);
            // As for CreateSIPParticipant's: longer than any caller waits with a ringing phone.
            if ringing_timeout.0 > std::time::Duration::from_secs(300) {
                report(key, "at most 300s".into());
            }
        }
        if let Some(max) = rule.max_call_duration {
            check_positive(&format!("{key}.max_call_duration"), max, report);
        }
        if let Some(room_config) = &rule.room_config {
            check_room_config(&format!("{key}.room_config"), room_config, report);
        }
        if let Some(name) = rule
            .room_preset
            .as_ref()
            .filter(|name| !config.room_presets.contains_key(*name))
        {
            report(
                format!("{key}.room_preset"),
                format!("no room_presets entry is named {name:?}"),
            );
        }
    }
    for (name, preset) in &config.room_presets {
        check_room_config(&format!("room_presets.{name}"), preset, report);
    }
}

fn check_room_config(key: &str, room_config: &RoomConfig, report: &mut Report<'_>) {
    for (i, agent) in room_config.agents.iter().enumerate() {
        if agent.agent_name.trim().is_empty() {
            report(
                format!("{key}.agents[{i}].agent_name"),
                "empty agent name: name the agent to dispatch".into(),
            );
        }
    }
    // LiveKit counts these in whole seconds (u32).
    for (name, value) in [
        ("empty_timeout", room_config.empty_timeout),
        ("departure_timeout", room_config.departure_timeout),
    ] {
        if let Some(value) = value {
            check_positive(&format!("{key}.{name}"), value, report);
            if value.0.as_secs() > u64::from(u32::MAX) {
                report(format!("{key}.{name}"), "too long".into());
            }
        }
    }
    if room_config.max_participants == Some(0) {
        report(
            format!("{key}.max_participants"),
            "0 admits nobody: leave it out for no limit".into(),
        );
    }
}

fn check_unique_ids<'a>(section: &str, ids: impl Iterator<Item = &'a Id>, report: &mut Report<'_>) {
    let mut first_index = std::collections::HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(first) = first_index.insert(id, i) {
            report(
                format!("{section}[{i}].id"),
                format!("\"{id}\" is already the id of {section}[{first}]"),
            );
            first_index.insert(id, first);
        }
    }
}

fn check_credentials(key: &str, auth: &Credentials, report: &mut Report<'_>) {
    if auth.username.is_empty() {
        report(format!("{key}.username"), "empty".into());
    }
    if auth.password.expose().is_empty() {
        report(format!("{key}.password"), "empty".into());
    }
}

fn check_positive(key: &str, value: Duration, report: &mut Report<'_>) {
    if value.is_zero() {
        report(key.into(), "must be longer than 0".into());
    }
}

/// A value that goes into a SIP header must not break out of it (CR/LF injection).
fn check_header_value(key: &str, value: &str, report: &mut Report<'_>) {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        report(
            key.into(),
            format!("{value:?} contains control characters, which cannot go in a SIP header"),
        );
    }
}
