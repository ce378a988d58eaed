//! The running test bed, described by the `KEY=value` lines `tests/bed/up` printed, which
//! `tests/run` exports into the environment of the test processes.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Bed {
    pub livekit_url: String,
    pub api_key: String,
    pub api_secret: String,
    /// Base URL of the bridge's Twirp API.
    pub api_url: String,
    /// The bridge's SIP address (UDP and TCP).
    pub sip_addr: String,
    pub inbound_number: String,
    pub inbound_room: String,
    pub outbound_trunk: String,
    pub cdr: PathBuf,
    pub metrics_url: String,
    pub redis_addr: String,
    /// The venv's Python, which has the LiveKit SDK.
    pub python: PathBuf,
    /// The livekit-server binary the bed runs, for tests that need a server of their own.
    pub livekit_server: PathBuf,
    pub dir: PathBuf,
}

impl Bed {
    /// The bed, or `None` after printing why the calling test is skipped. Panics instead when
    /// `CI=true`: CI must never skip.
    pub fn get(test: &str) -> Option<Self> {
        match Self::from_env() {
            Ok(bed) => Some(bed),
            Err(missing) => {
                let reason = format!(
                    "the test bed is not up ({missing} is not set): run tests/run, or export the \
                     output of tests/bed/up"
                );
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!("{test}: {reason}");
                }
                eprintln!("SKIPPED {test}: {reason}");
                None
            }
        }
    }

    fn from_env() -> Result<Self, &'static str> {
        fn var(name: &'static str) -> Result<String, &'static str> {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or(name)
        }
        Ok(Self {
            livekit_url: var("LIVEKIT_URL")?,
            api_key: var("LIVEKIT_API_KEY")?,
            api_secret: var("LIVEKIT_API_SECRET")?,
            api_url: var("SIPBRIDGE_API_URL")?,
            sip_addr: var("SIPBRIDGE_SIP_ADDR")?,
            inbound_number: var("SIPBRIDGE_INBOUND_NUMBER")?,
            inbound_room: var("SIPBRIDGE_INBOUND_ROOM")?,
            outbound_trunk: var("SIPBRIDGE_OUTBOUND_TRUNK")?,
            cdr: var("SIPBRIDGE_CDR")?.into(),
            metrics_url: var("SIPBRIDGE_METRICS_URL")?,
            redis_addr: var("SIPBRIDGE_REDIS_ADDR")?,
            python: var("SIPBRIDGE_PYTHON")?.into(),
            livekit_server: var("SIPBRIDGE_LIVEKIT_SERVER")?.into(),
            dir: var("SIPBRIDGE_BED_DIR")?.into(),
        })
    }

    /// A file of the repository's `tests/` directory.
    pub fn tests_file(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }
}
