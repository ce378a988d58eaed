//! Which inbound trunk a call arrives on and which dispatch rule sends it where: pure
//! functions of the config and the INVITE's addresses, so every rule is unit-tested.

use std::net::IpAddr;

use sipbridge_config::values::PhoneNumber;
use sipbridge_config::{Config, DispatchRule, InboundTrunk, RoomRule};

/// The parts of an INVITE that routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct CallAddress<'a> {
    pub source: IpAddr,
    /// The dialled number (Request-URI user part).
    pub called: &'a str,
    /// The caller's number (From user part).
    pub caller: &'a str,
}

/// Why no trunk takes the call (all answered 403, docs/OUTCOMES.md; the detail is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTrunk {
    /// No trunk allows the source address (or none of those serving the number does).
    AddressNotAllowed,
    /// No trunk serves the called number.
    NumberNotServed,
    /// A trunk serves the number, but not for this caller.
    CallerNotAllowed,
}

/// Numbers compare by digits: carriers send the same number with and without the `+`.
fn same_number(configured: &PhoneNumber, number: &str) -> bool {
    let digits = |n: &str| n.trim_start_matches('+').to_owned();
    digits(configured.as_str()) == digits(number)
}

fn listed(numbers: &[PhoneNumber], number: &str) -> bool {
    numbers.iter().any(|n| same_number(n, number))
}

/// The trunk for a call: among those serving the called number, allowing the source
/// address and the caller, one that lists the called number explicitly wins over a
/// catch-all; then config order. When none matches, the reason names what failed: no trunk
/// allows the address at all (the case `hide_inbound_port` keeps silent), no trunk serves
/// the number, the trunks serving it do not allow the address, or not this caller.
pub fn match_trunk<'c>(
    config: &'c Config,
    call: CallAddress<'_>,
) -> Result<&'c InboundTrunk, NoTrunk> {
    let allows_address = |t: &&InboundTrunk| {
        t.allowed_addresses.is_empty()
            || t.allowed_addresses
                .iter()
                .any(|net| net.contains(call.source))
    };
    let trunks = &config.inbound_trunks;
    if !trunks.iter().any(|t| allows_address(&t)) {
        return Err(NoTrunk::AddressNotAllowed);
    }
    let serving: Vec<&InboundTrunk> = trunks
        .iter()
        .filter(|t| t.numbers.is_empty() || listed(&t.numbers, call.called))
        .collect();
    if serving.is_empty() {
        return Err(NoTrunk::NumberNotServed);
    }
    let reachable: Vec<&InboundTrunk> = serving.into_iter().filter(allows_address).collect();
    if reachable.is_empty() {
        return Err(NoTrunk::AddressNotAllowed);
    }
    let allowed = reachable
        .into_iter()
        .filter(|t| t.allowed_numbers.is_empty() || listed(&t.allowed_numbers, call.caller));
    let (explicit, catch_all): (Vec<_>, Vec<_>) = allowed.partition(|t| !t.numbers.is_empty());
    explicit
        .into_iter()
        .chain(catch_all)
        .next()
        .ok_or(NoTrunk::CallerNotAllowed)
}

/// The dispatch rule for a call on `trunk`: a rule naming the trunk wins over one that
/// serves every trunk; then config order. `None` → 404 (docs/OUTCOMES.md).
pub fn match_rule<'c>(config: &'c Config, trunk: &InboundTrunk) -> Option<&'c DispatchRule> {
    let names_trunk = |rule: &&DispatchRule| rule.trunk_ids.iter().any(|id| id == &trunk.id);
    let serves_all = |rule: &&DispatchRule| rule.trunk_ids.is_empty();
    let rules = &config.dispatch_rules;
    rules
        .iter()
        .find(names_trunk)
        .or_else(|| rules.iter().find(serves_all))
}

/// The room a rule puts the call in. `suffix` is random, for `individual` rooms.
pub fn room_name(rule: &DispatchRule, call: CallAddress<'_>, suffix: &str) -> String {
    match &rule.rule {
        RoomRule::Direct { room, .. } => room.clone(),
        RoomRule::Individual { room_prefix, .. } => {
            format!("{room_prefix}{}_{suffix}", call.caller)
        }
        RoomRule::Callee { room_prefix, .. } => format!("{room_prefix}{}", call.called),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
livekit: { url: "ws://127.0.0.1:7880", api_key: devkey, api_secret: secret }
sip: { external_ip: 192.0.2.10 }
inbound_trunks:
  - id: carrier
    numbers: ["+15550100", "+15550101"]
    allowed_addresses: [203.0.113.0/24]
  - id: vip-only
    numbers: ["+15550102"]
    allowed_addresses: [203.0.113.0/24]
    allowed_numbers: ["+15557777"]
  - id: office-pbx
    allowed_addresses: [10.1.0.0/16]
dispatch_rules:
  - id: pbx-callee
    trunk_ids: [office-pbx]
    rule: { callee: { room_prefix: "ext-" } }
  - id: everyone
    rule: { individual: { room_prefix: "call-", pin: "99" } }
  - id: sales
    trunk_ids: [carrier]
    rule: { direct: { room: sales, pin: "1234" } }
"#;

    fn config() -> Config {
        sipbridge_config::load_str("test.yaml", CONFIG, |_| None).unwrap()
    }

    fn call<'a>(source: &str, called: &'a str, caller: &'a str) -> CallAddress<'a> {
        CallAddress {
            source: source.parse().unwrap(),
            called,
            caller,
        }
    }

    #[test]
    fn trunks_filter_by_address_then_number_then_caller() {
        let config = config();
        let trunk = |c| match_trunk(&config, c).map(|t| t.id.as_str());
        assert_eq!(
            trunk(call("203.0.113.9", "15550100", "+15551234")),
            Ok("carrier")
        );
        assert_eq!(
            trunk(call("198.51.100.1", "+15550100", "x")),
            Err(NoTrunk::AddressNotAllowed)
        );
        // Only the PBX's catch-all trunk serves this number, and not from the carrier.
        assert_eq!(
            trunk(call("203.0.113.9", "+15550199", "x")),
            Err(NoTrunk::AddressNotAllowed)
        );
        let carrier_only = Config {
            inbound_trunks: config.inbound_trunks[..2].to_vec(),
            ..config.clone()
        };
        assert_eq!(
            match_trunk(&carrier_only, call("203.0.113.9", "+15550199", "x"))
                .map(|t| t.id.as_str()),
            Err(NoTrunk::NumberNotServed)
        );
        assert_eq!(
            trunk(call("203.0.113.9", "+15550102", "+1999")),
            Err(NoTrunk::CallerNotAllowed)
        );
        assert_eq!(
            trunk(call("203.0.113.9", "+15550102", "15557777")),
            Ok("vip-only")
        );
        assert_eq!(trunk(call("10.1.2.3", "204", "201")), Ok("office-pbx"));
    }

    #[test]
    fn rules_naming_the_trunk_win_over_catch_alls() {
        let config = config();
        let carrier = &config.inbound_trunks[0];
        let pbx = &config.inbound_trunks[2];
        let vip = &config.inbound_trunks[1];
        assert_eq!(match_rule(&config, carrier).unwrap().id.as_str(), "sales");
        assert_eq!(match_rule(&config, pbx).unwrap().id.as_str(), "pbx-callee");
        assert_eq!(match_rule(&config, vip).unwrap().id.as_str(), "everyone");
    }

    #[test]
    fn room_names_follow_the_rule() {
        let config = config();
        let c = call("10.1.2.3", "204", "+15551234");
        let rules = &config.dispatch_rules;
        assert_eq!(room_name(&rules[0], c, "x"), "ext-204");
        assert_eq!(room_name(&rules[1], c, "a1b2"), "call-+15551234_a1b2");
        assert_eq!(room_name(&rules[2], c, "x"), "sales");
        // A PIN on any kind of rule.
        assert_eq!(rules[2].rule.pin(), Some("1234"));
        assert_eq!(rules[1].rule.pin(), Some("99"));
        assert_eq!(rules[0].rule.pin(), None);
    }
}
