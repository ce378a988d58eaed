//! `http:`, `limits:`, `cdr:`, `logging:`, `shutdown:` — running the service itself.

use serde::Deserialize;

use crate::values::{Duration, ListenAddr};

/// One HTTP listener serves the Twirp `livekit.SIP` API, `/metrics` and `/health`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    pub listen: ListenAddr,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            listen: ListenAddr(([0, 0, 0, 0], 8080).into()),
        }
    }
}

/// Admission control: past either limit, new calls are refused (inbound 503, outbound API error)
/// while calls in progress carry on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Unlimited when unset.
    pub max_active_calls: Option<u32>,
    /// Fraction of the machine's CPU (0 < x ≤ 1) above which new calls are refused.
    pub max_cpu_utilization: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_active_calls: None,
            max_cpu_utilization: 0.9,
        }
    }
}

/// Call detail records: one JSON line per call, appended to `path` (relative paths are taken
/// from the working directory).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cdr {
    pub path: String,
}

impl Default for Cdr {
    fn default() -> Self {
        Self {
            path: "/var/lib/sipbridge/cdr.jsonl".to_owned(),
        }
    }
}

/// `RUST_LOG`, when set, overrides `level` with a full filter directive.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub level: LogLevel,
    /// One JSON object per line instead of human-readable text.
    pub json: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    /// Also logs phone numbers, which are personal data.
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// On SIGTERM the bridge stops taking calls (health 503) and waits this long for calls in
    /// progress to end before it hangs them up (SERVER_SHUTDOWN, 503 "Shutting down").
    pub drain_timeout: Duration,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            drain_timeout: Duration::from_secs(60),
        }
    }
}
