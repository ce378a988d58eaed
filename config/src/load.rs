//! Reading a config: YAML → typed structs (with the failing key path and position) → environment
//! overrides → cross-field validation, whose findings are placed in the file by the source map.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use crate::Config;
use crate::dispatch::{DispatchRule, RoomConfig};
use crate::error::{ConfigError, Origin, Problem};
use crate::livekit::{LiveKit, LiveKitFile};
use crate::mode::Mode;
use crate::redis::RedisFile;
use crate::rtp::Rtp;
use crate::service::{Cdr, Http, Limits, Logging, Shutdown};
use crate::sip::Sip;
use crate::source_map::{Position, SourceMap};
use crate::trunks::{InboundTrunk, OutboundTrunk};
use crate::validate::{self, Finding};
use crate::values::Secret;

/// The file as written; sections left out take their defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    livekit: LiveKitFile,
    redis: Option<RedisFile>,
    #[serde(default)]
    sip: Sip,
    #[serde(default)]
    rtp: Rtp,
    #[serde(default)]
    http: Http,
    #[serde(default)]
    inbound_trunks: Vec<InboundTrunk>,
    #[serde(default)]
    outbound_trunks: Vec<OutboundTrunk>,
    #[serde(default)]
    dispatch_rules: Vec<DispatchRule>,
    #[serde(default)]
    room_presets: BTreeMap<String, RoomConfig>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    cdr: Cdr,
    #[serde(default)]
    logging: Logging,
    #[serde(default)]
    shutdown: Shutdown,
}

/// Reads and validates the config file at `path`, with overrides from the process environment.
pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    load_str(&file, &text, |var| std::env::var(var).ok())
}

/// Validates config `text`; `file` names it in errors and `env` looks up environment overrides.
pub fn load_str(
    file: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let parsed = deserialize(text).map_err(|(key, position, message)| {
        let origin = Origin::File {
            file: file.to_owned(),
            position,
        };
        ConfigError::Invalid(vec![Problem {
            origin,
            key,
            message,
        }])
    })?;

    let mut findings = Vec::new();
    let livekit = resolve_livekit(parsed.livekit, &env, &mut findings);
    let redis = crate::redis_checks::resolve(parsed.redis, parsed.mode, &env, &mut findings);
    let config = Config {
        mode: parsed.mode,
        livekit,
        redis,
        sip: parsed.sip,
        rtp: parsed.rtp,
        http: parsed.http,
        inbound_trunks: parsed.inbound_trunks,
        outbound_trunks: parsed.outbound_trunks,
        dispatch_rules: parsed.dispatch_rules,
        room_presets: parsed.room_presets,
        limits: parsed.limits,
        cdr: parsed.cdr,
        logging: parsed.logging,
        shutdown: parsed.shutdown,
    };
    validate::check(&config, &mut findings);
    if findings.is_empty() {
        return Ok(config);
    }
    let source_map = SourceMap::build(text);
    let problems = findings
        .into_iter()
        .map(|finding| {
            let origin = match finding.env {
                Some(var) => Origin::Env { var },
                None => Origin::File {
                    file: file.to_owned(),
                    position: source_map.locate(&finding.key),
                },
            };
            Problem {
                origin,
                key: finding.key,
                message: finding.message,
            }
        })
        .collect();
    Err(ConfigError::Invalid(problems))
}

/// Deserializes, or gives the failing key path, its position and the message.
fn deserialize(text: &str) -> Result<ConfigFile, (String, Option<Position>, String)> {
    // A file holding only comments is an empty mapping, not a missing document.
    if text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
    {
        return deserialize("{}");
    }
    let mut failed_key = String::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            failed_key = error.path().to_string();
            error.into_inner()
        })
    });
    result.map_err(|error| {
        let position = error
            .location()
            .filter(|at| at.line() > 0)
            .map(|at| Position {
                line: at.line(),
                column: at.column(),
            });
        let message = DefaultMessageFormatter.format_message(error.without_snippet());
        let key = if failed_key == "." {
            String::new()
        } else {
            failed_key
        };
        (key, position, readable(&message))
    })
}

/// Says "key" where serde says "field" (YAML has keys), and escapes control characters so a
/// hostile file cannot write to the terminal.
fn readable(message: &str) -> String {
    let message = match message.strip_prefix("unknown field ") {
        Some(rest) => format!("unknown key {rest}"),
        None => message.to_owned(),
    };
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default())
        } else {
            escaped.push(c)
        }
    }
    escaped
}

/// Merges the environment over the file's `livekit:` section; all three values are required.
fn resolve_livekit(
    file: LiveKitFile,
    env: &impl Fn(&str) -> Option<String>,
    findings: &mut Vec<Finding>,
) -> LiveKit {
    let mut pick = |var: &'static str, key: &str, from_file: Option<String>| match env(var)
        .filter(|value| !value.is_empty())
    {
        Some(value) => (value, Some(var)),
        None => {
            let value = from_file.unwrap_or_default();
            if value.is_empty() {
                findings.push(Finding::new(
                    key,
                    format!("missing (set it here or in {var})"),
                ));
            }
            (value, None)
        }
    };
    let (url, url_var) = pick("LIVEKIT_URL", "livekit.url", file.url);
    let (api_key, _) = pick("LIVEKIT_API_KEY", "livekit.api_key", file.api_key);
    let (api_secret, _) = pick(
        "LIVEKIT_API_SECRET",
        "livekit.api_secret",
        file.api_secret.map(|secret| secret.expose().to_owned()),
    );
    if !url.is_empty() && !crate::livekit::is_server_url(&url) {
        let message = format!("{url:?} is not a ws://, wss://, http:// or https:// URL");
        let finding = Finding::new("livekit.url", message);
        findings.push(match url_var {
            Some(var) => finding.with_env(var),
            None => finding,
        });
    }
    LiveKit {
        url,
        api_key,
        api_secret: Secret::new(api_secret),
    }
}
