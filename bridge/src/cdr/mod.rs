//! Call detail records: one JSON line per call, shaped exactly like `livekit.SIPCallInfo`
//! (its protobuf JSON mapping), appended to `cdr.path` (docs/OUTCOMES.md, delivery 3), and
//! one line per transfer shaped like `livekit.SIPTransferInfo` ([`TransferRecord`]); a reader
//! tells them apart by `transferId`, which only transfer lines have.
//!
//! Never lost: records go through an unbounded queue to one writer task (`writer`) that
//! flushes and syncs each batch, holds them in memory while the file cannot be written, and
//! `run` waits for the writer before returning. A call's [`CallRecord`] writes itself when
//! dropped unfinished (a call task that ended without an outcome), so a bug cannot swallow a
//! record either; and a call in progress when the process dies is in the live-call journal
//! (`journal`), recovered on the next start. Never duplicated: [`CallRecord::finish`]
//! consumes it.

pub mod hangup;
mod journal;
mod transfer;
mod writer;

use std::path::PathBuf;

use livekit_protocol::{DisconnectReason, SipCallInfo, SipStatus, SipTransferInfo};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

pub use transfer::TransferRecord;

/// What the writer is asked to do, in order.
#[derive(Debug)]
enum Record {
    // Boxed: records are queued by the thousand, and a call's is several times a transfer's.
    /// A call's final record: a line of the file.
    Call(Box<SipCallInfo>),
    /// A transfer's record: a line of the file.
    Transfer(SipTransferInfo),
    /// A call in progress, as far as it goes: its journal entry.
    Live(Box<SipCallInfo>),
    /// A call that will have no record (a step of an attempt): its journal entry goes.
    Forget(String),
    /// The BYE an answered call would send (by our call id), for a restart after a crash.
    KeepBye(String, hangup::KeptBye),
}

/// A record once written, for whoever reports calls elsewhere (cluster mode: livekit-server's
/// `IOInfo.UpdateSIPCallState`).
#[derive(Debug, Clone)]
pub enum Written {
    Call(Box<SipCallInfo>),
    Transfer(SipTransferInfo),
}

/// Hears of every record written.
pub type Report = Box<dyn Fn(Written) + Send>;

/// Where records are sent; cheap to clone, one per call.
#[derive(Debug, Clone)]
pub struct CdrSink(mpsc::UnboundedSender<Record>);

impl CdrSink {
    /// The writer task for `path` and the sink feeding it. The task ends once every sink is
    /// dropped and the queue is written out.
    pub fn start(path: PathBuf) -> (Self, tokio::task::JoinHandle<()>) {
        Self::start_reporting(path, None, None)
    }

    /// The same, telling `report` of each record once it is queued for the file and counting
    /// failed writes in `failures`. The records of calls the last run left in progress
    /// (its live-call journal) are queued first.
    pub fn start_reporting(
        path: PathBuf,
        report: Option<Report>,
        failures: Option<Counter>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, queue) = mpsc::unbounded_channel();
        let sink = Self(sender);
        for info in journal::recover(&path) {
            sink.send(Record::Call(Box::new(info)));
        }
        let writer = writer::Writer {
            path,
            report,
            failures,
        };
        (sink, tokio::spawn(writer.run(queue)))
    }

    /// Starts the record of one call, journalled until it ends.
    pub fn record(&self, info: SipCallInfo) -> CallRecord {
        self.send(Record::Live(Box::new(info.clone())));
        CallRecord {
            info: Some(info),
            sink: self.clone(),
        }
    }

    fn send(&self, record: Record) {
        // The writer outlives every sink (`run` waits for it), so this cannot fail in
        // practice; if it ever did, the log keeps the record.
        if let Err(error) = self.0.send(record) {
            tracing::error!(record = ?error.0, "call detail record not queued");
        }
    }
}

/// The record of a call in progress.
#[derive(Debug)]
pub struct CallRecord {
    info: Option<SipCallInfo>,
    sink: CdrSink,
}

impl CallRecord {
    /// Fills in fields as the call progresses.
    pub fn update(&mut self, change: impl FnOnce(&mut SipCallInfo)) {
        if let Some(info) = self.info.as_mut() {
            change(info);
        }
    }

    /// Our id of the call (`SCL_…`), as in the record.
    pub fn call_id(&self) -> String {
        self.info
            .as_ref()
            .map(|info| info.call_id.clone())
            .unwrap_or_default()
    }

    /// The call's room, participant identity and our id of the call, as recorded.
    pub fn participant(&self) -> (String, String, String) {
        self.info.as_ref().map_or_else(Default::default, |info| {
            (
                info.room_name.clone(),
                info.participant_identity.clone(),
                info.call_id.clone(),
            )
        })
    }

    /// The call is answered now (`started_at_ns`, unless set already): its journal entry is
    /// written again and synced, so a crash cannot lose a call that was answered.
    pub fn answered(&mut self) {
        if let Some(info) = self.info.as_mut() {
            if info.started_at_ns == 0 {
                info.started_at_ns = now_ns();
            }
            self.sink.send(Record::Live(Box::new(info.clone())));
        }
    }

    /// Keeps the BYE that ends the call at the far end, for a bridge started again after a
    /// crash (`hangup`); sent at the answer, after [`CallRecord::answered`].
    pub fn keep_bye(&self, bye: hangup::KeptBye) {
        if let Some(info) = self.info.as_ref() {
            self.sink.send(Record::KeepBye(info.call_id.clone(), bye));
        }
    }

    /// Drops the record unwritten: the attempt did not end, it took a step (a 407 challenge,
    /// answered with a new INVITE that gets a record of its own). Its journal entry goes.
    pub fn discard(mut self) {
        if let Some(info) = self.info.take() {
            self.sink.send(Record::Forget(info.call_id));
        }
    }

    /// Writes the record with its outcome. `ended_at_ns` is now.
    pub fn finish(mut self, reason: DisconnectReason, code: u16, status: &str, error: &str) {
        if let Some(mut info) = self.info.take() {
            close(&mut info, reason, code, status, error);
            self.sink.send(Record::Call(Box::new(info)));
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if let Some(mut info) = self.info.take() {
            tracing::error!(call_id = %info.call_id, "call ended without an outcome");
            close(
                &mut info,
                DisconnectReason::UnknownReason,
                500,
                "Internal error",
                "call task ended without an outcome",
            );
            self.sink.send(Record::Call(Box::new(info)));
        }
    }
}

fn close(info: &mut SipCallInfo, reason: DisconnectReason, code: u16, status: &str, error: &str) {
    let now = now_ns();
    info.ended_at_ns = now;
    info.disconnect_reason = reason as i32;
    info.call_status_code = Some(SipStatus {
        code: i32::from(code),
        status: status.to_owned(),
    });
    info.error = error.to_owned();
    // SCS_DISCONNECTED for calls that were answered, SCS_ERROR for those that never were.
    let answered = info.started_at_ns != 0;
    info.call_status = if answered { 3 } else { 4 };
}

/// Nanoseconds since the Unix epoch.
/// A new call's id, `SCL_` and 12 hex digits as LiveKit writes them (`sip.callID`, the
/// record's `call_id`, the API's `sip_call_id`).
pub fn new_call_id() -> String {
    format!("SCL_{:012x}", rand::random::<u64>() >> 16)
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The protobuf JSON mapping of the record with two changes: the SIP status code stays the
/// integer the peer sent (the mapping would name it, `SIP_STATUS_GLOBAL_DECLINE`, which
/// every reader would have to map back), and the disconnect reason is always present (the
/// mapping leaves out `UNKNOWN_REASON`, its zero value).
/// A transfer line gets the same two changes ([`transfer::to_json`]).
fn to_json(record: &Record) -> Result<String, serde_json::Error> {
    let info = match record {
        Record::Call(info) | Record::Live(info) => info,
        Record::Transfer(info) => return transfer::to_json(info),
        Record::Forget(_) | Record::KeepBye(..) => return Ok(String::new()),
    };
    // The status is written by hand: the mapping refuses a code its enum does not name (a
    // carrier's 699 or 499), which would lose the whole record.
    let without_status = SipCallInfo {
        call_status_code: None,
        ..(**info).clone()
    };
    let mut value = serde_json::to_value(&without_status)?;
    if let Some(status) = &info.call_status_code {
        value["callStatusCode"] = status_json(status);
    }
    let reason = DisconnectReason::try_from(info.disconnect_reason).unwrap_or_default();
    value["disconnectReason"] = reason.as_str_name().into();
    serde_json::to_string(&value)
}

/// A SIP status as the mapping writes one, with the code as the integer received.
fn status_json(status: &SipStatus) -> serde_json::Value {
    let mut json = serde_json::json!({ "code": status.code });
    if !status.status.is_empty() {
        json["status"] = status.status.clone().into();
    }
    json
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_record_is_written_once_even_when_a_call_forgets() {
        let path =
            std::env::temp_dir().join(format!("sipbridge-cdr-test-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (sink, writer) = CdrSink::start(path.clone());
        let info = |id: &str| SipCallInfo {
            call_id: id.into(),
            ..SipCallInfo::default()
        };
        sink.record(info("finished"))
            .finish(DisconnectReason::UserRejected, 603, "Decline", "");
        drop(sink.record(info("forgotten")));
        drop(sink);
        writer.await.unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["callId"], "finished");
        assert_eq!(records[0]["disconnectReason"], "USER_REJECTED");
        assert_eq!(records[0]["callStatusCode"]["code"], 603);
        assert_eq!(records[0]["callStatusCode"]["status"], "Decline");
        assert_eq!(records[1]["callId"], "forgotten");
        assert_eq!(records[1]["disconnectReason"], "UNKNOWN_REASON");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_status_code_the_protocol_enum_does_not_name_is_written_as_received() {
        // 699 and 499 are valid SIP codes that livekit.SIPStatusCode has no name for.
        for (code, phrase) in [(699, "Unknown Global Failure"), (499, "Carrier Special")] {
            let info = SipCallInfo {
                call_id: "SCL_1".into(),
                call_status_code: Some(SipStatus {
                    code,
                    status: phrase.into(),
                }),
                ..SipCallInfo::default()
            };
            let line = to_json(&Record::Call(Box::new(info))).unwrap();
            let json: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(json["callStatusCode"]["code"], code, "{line}");
            assert_eq!(json["callStatusCode"]["status"], phrase, "{line}");
            assert_eq!(json["callId"], "SCL_1", "{line}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod writer_tests {
    use super::*;

    /// The file cannot be written (here: a directory stands where it should be): records
    /// wait, each failure is counted, and they are written once the file works; the
    /// journal keeps the call until then.
    #[tokio::test]
    async fn records_wait_in_memory_while_the_file_cannot_be_written() {
        let dir = std::env::temp_dir().join(format!("sipbridge-cdr-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cdr.jsonl");
        std::fs::create_dir_all(&path).unwrap();
        let failures = Counter::default();
        let (sink, writer) = CdrSink::start_reporting(path.clone(), None, Some(failures.clone()));
        let info = |id: &str| SipCallInfo {
            call_id: id.into(),
            ..SipCallInfo::default()
        };
        let mut first = sink.record(info("SCL_first"));
        first.answered();
        first.finish(DisconnectReason::ClientInitiated, 200, "Remote hangup", "");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(failures.get() >= 1, "the failed write is counted");
        let live = journal::directory(&path).join("SCL_first.json");
        assert!(live.exists(), "not written: still in the journal");

        std::fs::remove_dir(&path).unwrap();
        sink.record(info("SCL_second")).finish(
            DisconnectReason::UserRejected,
            486,
            "Busy Here",
            "",
        );
        drop(sink);
        writer.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["callId"].to_string())
            .collect();
        assert_eq!(ids, ["\"SCL_first\"", "\"SCL_second\""]);
        assert!(!live.exists(), "written: out of the journal");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
