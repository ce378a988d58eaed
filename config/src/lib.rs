//! The sipbridge configuration: one YAML file.
//!
//! [`load_file`] reads, deserializes and validates it. Unknown keys are errors, and every error
//! names the key path and its line and column, e.g.
//! `config.yaml:14:5: inbound_trunks[0].allowed_addresses[1]: "10.0.0.0/33" is not an IP or CIDR`.
//! `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` in the environment override the file,
//! and so do `REDIS_HOST` and `REDIS_PASSWORD` in `mode: cluster`.

mod dispatch;
mod error;
mod livekit;
mod load;
mod mode;
mod redis;
mod redis_checks;
mod rtp;
mod service;
mod sip;
mod source_map;
mod trunks;
mod validate;
pub mod values;

use std::collections::BTreeMap;

pub use dispatch::{AgentDispatch, DispatchRule, RoomConfig, RoomRule};
pub use error::{ConfigError, Origin, Problem};
pub use livekit::LiveKit;
pub use load::{load_file, load_str};
pub use mode::Mode;
pub use redis::{Redis, RedisSentinel, RedisTls};
pub use rtp::{Codec, JitterBuffer, PortRange, Rtp, SymmetricRtp};
pub use service::{Cdr, Http, Limits, LogLevel, Logging, Shutdown};
pub use sip::{Sip, SipListen, SipTimers, SipTls};
pub use source_map::Position;
pub use trunks::{
    Credentials, DigestAlgorithm, InboundTrunk, IncludeHeaders, OutboundTrunk, Transport,
};

/// The whole, validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    pub livekit: LiveKit,
    /// The Redis of the LiveKit deployment; used only in `mode: cluster`.
    pub redis: Option<Redis>,
    pub sip: Sip,
    pub rtp: Rtp,
    pub http: Http,
    pub inbound_trunks: Vec<InboundTrunk>,
    pub outbound_trunks: Vec<OutboundTrunk>,
    pub dispatch_rules: Vec<DispatchRule>,
    /// Named room configurations rules start from (`room_preset`).
    pub room_presets: BTreeMap<String, RoomConfig>,
    pub limits: Limits,
    pub cdr: Cdr,
    pub logging: Logging,
    pub shutdown: Shutdown,
}

impl Config {
    /// The room a rule asks for: its `room_preset`, with what its own `room_config` sets
    /// over it.
    pub fn room_config_of(&self, rule: &DispatchRule) -> Option<RoomConfig> {
        let preset = rule
            .room_preset
            .as_ref()
            .and_then(|name| self.room_presets.get(name));
        match (preset, &rule.room_config) {
            (Some(preset), Some(own)) => Some(own.over(preset)),
            (preset, own) => own.as_ref().or(preset).cloned(),
        }
    }

    /// Settings that are valid but probably not what a production deployment wants.
    pub fn warnings(&self) -> Vec<String> {
        let open_trunks = self
            .inbound_trunks
            .iter()
            .enumerate()
            .filter(|(_, trunk)| trunk.allowed_addresses.is_empty() && trunk.auth.is_none())
            .map(|(i, trunk)| {
                format!(
                    "inbound_trunks[{i}] ({}): accepts calls from any address without authentication; \
                     set allowed_addresses or auth",
                    trunk.id
                )
            });
        open_trunks.chain(self.redis_warnings()).collect()
    }

    fn redis_warnings(&self) -> Vec<String> {
        match (&self.redis, self.mode) {
            (None, _) => Vec::new(),
            (Some(_), Mode::Standalone) => vec!["redis: ignored in mode: standalone".to_owned()],
            (Some(redis), Mode::Cluster) => redis
                .ignored_keys
                .iter()
                .map(|key| redis::ignored_key_warning(key))
                .collect(),
        }
    }
}
