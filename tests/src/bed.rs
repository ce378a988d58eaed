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
    /// `standalone`, or `cluster` for a bed started with `tests/bed/up --cluster` (its API
    /// is then livekit-server's, and trunks and rules are created through it).
    pub mode: String,
    /// The bridge binary the bed runs, for tests that run one of their own as a process.
    pub bridge_bin: Option<PathBuf>,
    /// `docker-compose`, built by tests/bed/setup to check deploy/docker-compose.yml.
    pub docker_compose: Option<PathBuf>,
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
            mode: var("SIPBRIDGE_MODE").unwrap_or_else(|_| "standalone".to_owned()),
            bridge_bin: var("SIPBRIDGE_BIN").ok().map(PathBuf::from),
            docker_compose: var("SIPBRIDGE_DOCKER_COMPOSE").ok().map(PathBuf::from),
        })
    }

    /// The version of the bed's livekit-server: `tests/bed/setup` caches each build as
    /// `<cache>/livekit-server/<version>/livekit-server`.
    pub fn livekit_server_version(&self) -> String {
        self.livekit_server
            .parent()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The build of livekit-server `version`: the bed's binary for the bed's version, else
    /// the one `tests/bed/setup --all-livekit-versions` made beside it. `None` after printing
    /// why `test` skips that version when it is not built; panics instead when `CI=true`.
    pub fn livekit_server_build(&self, test: &str, version: &str) -> Option<PathBuf> {
        if version == self.livekit_server_version() {
            return Some(self.livekit_server.clone());
        }
        let versions = self.livekit_server.parent().and_then(Path::parent);
        let binary = versions
            .unwrap_or(Path::new("."))
            .join(version)
            .join("livekit-server");
        if binary.is_file() {
            return Some(binary);
        }
        let reason = format!(
            "livekit-server {version} is not built ({} is missing): run tests/bed/setup \
             --all-livekit-versions",
            binary.display()
        );
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test}: {reason}");
        }
        eprintln!("SKIPPED {test} against livekit-server {version}: {reason}");
        None
    }

    /// A file of the repository's `tests/` directory.
    pub fn tests_file(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }
}
