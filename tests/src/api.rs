//! The bridge's Twirp API called the way applications call it, through the official Node SDK
//! (livekit-server-sdk, the scripts of `tests/node/`) or the official Python SDK (livekit-api,
//! the scripts of `tests/py/`):
//!
//! - CreateSIPParticipant ([`create_sip_participant`], `create_sip_participant.{mjs,py}`): the
//!   snake_case fields of `livekit.CreateSIPParticipantRequest`, durations as
//!   `ringing_timeout_s` / `max_call_duration_s` seconds; `ok` is the `SIPParticipantInfo`.
//! - TransferSIPParticipant ([`transfer_sip_participant`], `transfer_sip_participant.{mjs,py}`):
//!   `room_name`, `participant_identity`, `transfer_to`, `play_dialtone`, `headers`, and
//!   `ringing_timeout_s` in whole seconds. `ok` is `{}` from Node (its SDK returns nothing),
//!   and from Python the `TransferSIPParticipantResponse`: `{"transfer_id", "status"
//!   (e.g. "STS_TRANSFER_SUCCESSFUL"), "reason" (e.g. "STR_COMPLETED", "STR_CALL_ENDED"),
//!   "sip_status": {"code", "status"} or null}`.
//!
//! Both take `request_timeout_s` too, the SDK's own request timeout (not a field of the
//! request; both SDKs raise it to the ringing timeout plus 2 s), and refuse an unknown field.
//! Each script prints one JSON line, parsed here into an [`ApiReply`]; its `error` is the
//! same for both methods (a failed transfer's `meta` also holds `sip_transfer_reason` and
//! `sip_transfer_id` when the bridge sends them).
//!
//! ```text
//! let request = json!({"sip_trunk_id": bed.outbound_trunk, "sip_call_to": "+15550123",
//!     "room_name": room, "wait_until_answered": true,
//!     "trunk": {"hostname": carrier.addr(), "transport": "udp"}});
//! let reply = create_sip_participant(&bed, Sdk::Python, &request, Duration::from_secs(40));
//! let failure = reply.error.expect("the call fails");
//! assert_eq!((failure.class.as_str(), failure.sip_status_code), ("SipCallError", Some(486)));
//!
//! let request = json!({"room_name": room, "participant_identity": "callee",
//!     "transfer_to": "sip:+15550999@127.0.0.1", "headers": {"X-Test": "1"}});
//! let reply = transfer_sip_participant(&bed, Sdk::Python, &request, Duration::from_secs(40));
//! assert_eq!(reply.ok.unwrap()["reason"], "STR_COMPLETED");
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Bed;

/// Which official SDK makes the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sdk {
    Node,
    Python,
}

/// What the SDK returned: `ok` (for CreateSIPParticipant the `SIPParticipantInfo`:
/// `participant_id`, `participant_identity`, `room_name`, `sip_call_id`; for
/// TransferSIPParticipant see the module doc), or `error`, or `cancelled`.
#[derive(Debug)]
pub struct ApiReply {
    pub ok: Option<Value>,
    pub error: Option<ApiFailure>,
    /// The caller gave up first ([`create_sip_participant_cancelled`]).
    pub cancelled: bool,
    /// How long the call took, as the script measured it: from when it had loaded the SDK to
    /// the SDK's answer (or the cancel).
    pub elapsed: Duration,
    /// What the script wrote to stderr (SDK warnings).
    pub stderr: String,
}

/// An error the SDK raised.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    /// `SipCallError` (a Twirp error whose meta has `sip_status_code`), `ServerError` (another
    /// Twirp error; `TwirpError` is the same class in both SDKs), `TimeoutError` (the SDK's
    /// request timeout), or the transport's error (Node `TypeError` "fetch failed", Python
    /// `ClientConnectorError`).
    pub class: String,
    /// The Twirp error code ("" when there was no Twirp error).
    pub code: String,
    /// The HTTP status (0 when there was no HTTP response).
    pub status: u16,
    /// `meta.sip_status_code`, as a number.
    pub sip_status_code: Option<u16>,
    /// `meta.sip_status` ("" when absent).
    pub sip_status: String,
    /// The SDK's message: Python's is the Twirp `msg`; Node's `SipCallError` rewrites it as
    /// "SIP call failed: 486 Busy Here (code) [other meta]".
    pub message: String,
    /// The whole Twirp `meta` object.
    pub meta: Value,
}

/// Who calls the API, and with which Python: the bed's, or anything else (a self-test's
/// fake server).
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub api_url: String,
    pub api_key: String,
    pub api_secret: String,
    /// A Python with livekit-api (the bed's venv).
    pub python: PathBuf,
}

impl ApiCaller {
    pub fn of(bed: &Bed) -> Self {
        Self {
            api_url: bed.api_url.clone(),
            api_key: bed.api_key.clone(),
            api_secret: bed.api_secret.clone(),
            python: bed.python.clone(),
        }
    }
}

/// CreateSIPParticipant with `request` through `sdk`, against the bed's bridge; panics if the
/// script does not answer within `limit` (the SDKs' own timeouts are shorter: see
/// `request_timeout_s`) or answers something else than its one JSON line.
pub fn create_sip_participant(bed: &Bed, sdk: Sdk, request: &Value, limit: Duration) -> ApiReply {
    ApiCaller::of(bed).create_sip_participant(sdk, request, &[], limit)
}

/// CreateSIPParticipant through the Python SDK, given up (the task cancelled, its HTTP
/// connection closed) after `cancel_after` if it has not returned by then: `cancelled` is
/// set, or, if it returned first, what it returned.
pub fn create_sip_participant_cancelled(
    bed: &Bed,
    request: &Value,
    cancel_after: Duration,
    limit: Duration,
) -> ApiReply {
    let seconds = format!("{:.3}", cancel_after.as_secs_f64());
    ApiCaller::of(bed).create_sip_participant(
        Sdk::Python,
        request,
        &["--cancel-after", &seconds],
        limit,
    )
}

/// TransferSIPParticipant with `request` through `sdk`, against the bed's bridge; panics as
/// [`create_sip_participant`] does.
pub fn transfer_sip_participant(bed: &Bed, sdk: Sdk, request: &Value, limit: Duration) -> ApiReply {
    ApiCaller::of(bed).transfer_sip_participant(sdk, request, limit)
}

/// The two scripts, one per SDK, that make one API call.
struct Scripts {
    node: &'static str,
    python: &'static str,
}

const CREATE: Scripts = Scripts {
    node: "node/create_sip_participant.mjs",
    python: "py/create_sip_participant.py",
};

const TRANSFER: Scripts = Scripts {
    node: "node/transfer_sip_participant.mjs",
    python: "py/transfer_sip_participant.py",
};

impl ApiCaller {
    /// Runs the SDK's script with `options` before the request (Python's `--cancel-after`).
    pub fn create_sip_participant(
        &self,
        sdk: Sdk,
        request: &Value,
        options: &[&str],
        limit: Duration,
    ) -> ApiReply {
        self.run(&CREATE, sdk, request, options, limit)
    }

    /// Runs the SDK's TransferSIPParticipant script.
    pub fn transfer_sip_participant(&self, sdk: Sdk, request: &Value, limit: Duration) -> ApiReply {
        self.run(&TRANSFER, sdk, request, &[], limit)
    }

    /// Runs `sdk`'s script of `scripts` with `options` then the request, and parses the JSON
    /// line it prints; panics if it does not print one within `limit`.
    fn run(
        &self,
        scripts: &Scripts,
        sdk: Sdk,
        request: &Value,
        options: &[&str],
        limit: Duration,
    ) -> ApiReply {
        let (program, script) = match sdk {
            Sdk::Node => ("node".into(), scripts.node),
            Sdk::Python => (self.python.clone(), scripts.python),
        };
        let mut child = Command::new(&program)
            .arg(Bed::tests_file(script))
            .args(options)
            .arg(request.to_string())
            // The tests directory, whose node_modules has the Node SDK.
            .current_dir(Bed::tests_file(""))
            .env("SIPBRIDGE_API_URL", &self.api_url)
            .env("LIVEKIT_API_KEY", &self.api_key)
            .env("LIVEKIT_API_SECRET", &self.api_secret)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        // Read both pipes while waiting, so a chatty SDK can never block on a full pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
        let Some(status) = status else {
            panic!("{script} did not answer within {limit:?}; stderr:\n{stderr}");
        };
        assert!(
            status.success(),
            "{script} failed ({status}); stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let line: Value = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| {
                panic!("{script} printed no JSON line; stdout:\n{stdout}\nstderr:\n{stderr}")
            });
        parse_reply(&line, stderr)
    }
}

fn parse_reply(line: &Value, stderr: String) -> ApiReply {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let error = line.get("error").map(|error| ApiFailure {
        class: text(&error["class"]),
        code: text(&error["code"]),
        status: error["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0),
        // A string in the Twirp meta (both SDKs pass it on as it came).
        sip_status_code: match &error["sip_status_code"] {
            Value::String(code) => code.parse().ok(),
            Value::Number(code) => code.as_u64().and_then(|c| u16::try_from(c).ok()),
            _ => None,
        },
        sip_status: text(&error["sip_status"]),
        message: text(&error["message"]),
        meta: error["meta"].clone(),
    });
    ApiReply {
        ok: line.get("ok").cloned(),
        error,
        cancelled: line["cancelled"] == true,
        elapsed: Duration::from_millis(line["elapsed_ms"].as_u64().unwrap_or(0)),
        stderr,
    }
}

/// The Python of the bed's venv, which has livekit-api: `SIPBRIDGE_PYTHON` when the bed's
/// lines are exported, else the venv `tests/bed/setup` made for this checkout, if it exists.
pub fn sdk_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("SIPBRIDGE_PYTHON").filter(|p| !p.is_empty()) {
        return Some(python.into());
    }
    let lib = Bed::tests_file("bed/lib.sh");
    let output = Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && venv_dir")
        .arg("bash")
        .arg(lib)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let venv = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    let python = venv.join("bin/python");
    python.exists().then_some(python)
}
