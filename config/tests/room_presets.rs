//! `room_presets:`: named room configurations a rule starts from, its own `room_config`
//! setting over them.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

const YAML: &str = r#"
livekit: { url: "ws://127.0.0.1:7880", api_key: devkey, api_secret: secret }
sip: { external_ip: 192.0.2.10 }
inbound_trunks:
  - { id: a, allowed_addresses: [10.0.0.0/8], numbers: ["+1"] }
  - { id: b, allowed_addresses: [10.0.0.0/8], numbers: ["+2"] }
  - { id: c, allowed_addresses: [10.0.0.0/8], numbers: ["+3"] }
room_presets:
  reception:
    agents: [{ agent_name: receptionist }]
    empty_timeout: 60s
    max_participants: 4
dispatch_rules:
  - id: preset-only
    trunk_ids: [a]
    rule: { individual: {} }
    room_preset: reception
  - id: preset-and-own
    trunk_ids: [b]
    rule: { individual: {} }
    room_preset: reception
    room_config: { max_participants: 2, metadata: "vip" }
  - id: neither
    trunk_ids: [c]
    rule: { individual: {} }
"#;

#[test]
fn a_rule_starts_from_its_preset_and_its_own_room_config_wins() {
    let config = sipbridge_config::load_str("presets.yaml", YAML, |_| None).unwrap();
    let rules = &config.dispatch_rules;
    let preset_only = config.room_config_of(&rules[0]).unwrap();
    assert_eq!(preset_only.agents[0].agent_name, "receptionist");
    assert_eq!(preset_only.max_participants, Some(4));
    let mixed = config.room_config_of(&rules[1]).unwrap();
    assert_eq!(mixed.agents[0].agent_name, "receptionist");
    assert_eq!(
        mixed.empty_timeout.map(|d| d.0),
        Some(Duration::from_secs(60))
    );
    assert_eq!(mixed.max_participants, Some(2));
    assert_eq!(mixed.metadata, "vip");
    assert!(config.room_config_of(&rules[2]).is_none());
}

#[test]
fn a_rule_naming_no_preset_there_is_refused_by_key() {
    let yaml = YAML.replace(
        "room_preset: reception\n    room_config",
        "room_preset: lobby\n    room_config",
    );
    let error = sipbridge_config::load_str("presets.yaml", &yaml, |_| None).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("dispatch_rules[1].room_preset: no room_presets entry is named \"lobby\""),
        "{message}"
    );
}
