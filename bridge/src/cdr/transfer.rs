//! The record of one transfer (TransferSIPParticipant), one JSON line shaped like
//! `livekit.SIPTransferInfo`, written when its outcome is known: whether it succeeded, why
//! (`reason`), the SIP status that decided it, and when it started and ended. Like a call's
//! record it writes itself if dropped unfinished, so no transfer goes unrecorded.

use livekit_protocol::{SipStatus, SipTransferInfo, SipTransferReason, SipTransferStatus};

use super::{CdrSink, Record, now_ns, status_json};

/// The record of a transfer in progress.
#[derive(Debug)]
pub struct TransferRecord {
    info: Option<SipTransferInfo>,
    sink: CdrSink,
}

impl CdrSink {
    /// Starts the record of transfer `transfer_id` of call `call_id` (our `SCL_…` id) to
    /// `transfer_to`, as the API caller wrote it; `transfer_initiated_at_ns` is now.
    pub fn transfer(&self, transfer_id: &str, call_id: &str, transfer_to: &str) -> TransferRecord {
        TransferRecord {
            info: Some(SipTransferInfo {
                transfer_id: transfer_id.to_owned(),
                call_id: call_id.to_owned(),
                transfer_to: transfer_to.to_owned(),
                transfer_initiated_at_ns: now_ns(),
                transfer_status: SipTransferStatus::StsTransferOngoing as i32,
                ..SipTransferInfo::default()
            }),
            sink: self.clone(),
        }
    }
}

impl TransferRecord {
    /// Writes the record with its outcome; `status` is the SIP status that decided it (none
    /// for a call that ended first), `error` a failure's description (empty on success).
    pub fn finish(
        mut self,
        succeeded: bool,
        reason: SipTransferReason,
        status: Option<(u16, &str)>,
        error: &str,
    ) {
        if let Some(mut info) = self.info.take() {
            close(&mut info, succeeded, reason, status, error);
            self.sink.send(Record::Transfer(info));
        }
    }
}

impl Drop for TransferRecord {
    fn drop(&mut self) {
        if let Some(mut info) = self.info.take() {
            tracing::error!(transfer_id = %info.transfer_id, "transfer ended without an outcome");
            close(
                &mut info,
                false,
                SipTransferReason::StrUnspecified,
                Some((500, "Internal error")),
                "transfer ended without an outcome",
            );
            self.sink.send(Record::Transfer(info));
        }
    }
}

fn close(
    info: &mut SipTransferInfo,
    succeeded: bool,
    reason: SipTransferReason,
    status: Option<(u16, &str)>,
    error: &str,
) {
    info.transfer_completed_at_ns = now_ns();
    info.transfer_status = if succeeded {
        SipTransferStatus::StsTransferSuccessful
    } else {
        SipTransferStatus::StsTransferFailed
    } as i32;
    info.reason = reason as i32;
    info.transfer_status_code = status.map(|(code, phrase)| SipStatus {
        code: i32::from(code),
        status: phrase.to_owned(),
    });
    info.error = error.to_owned();
}

/// The protobuf JSON mapping with the changes a call line has: the SIP status code as the
/// integer received, and the enums always present (the mapping leaves out zero values, and
/// `STS_TRANSFER_ONGOING`/`STR_UNSPECIFIED` are zero).
pub(super) fn to_json(info: &SipTransferInfo) -> Result<String, serde_json::Error> {
    // As for a call line: a code the mapping's enum does not name must not lose the line.
    let without_status = SipTransferInfo {
        transfer_status_code: None,
        ..info.clone()
    };
    let mut value = serde_json::to_value(&without_status)?;
    if let Some(status) = &info.transfer_status_code {
        value["transferStatusCode"] = status_json(status);
    }
    let status = SipTransferStatus::try_from(info.transfer_status).unwrap_or_default();
    value["transferStatus"] = status.as_str_name().into();
    let reason = SipTransferReason::try_from(info.reason).unwrap_or_default();
    value["reason"] = reason.as_str_name().into();
    serde_json::to_string(&value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_transfer_is_recorded_once_even_when_forgotten() {
        let path = std::env::temp_dir().join(format!(
            "sipbridge-cdr-transfer-test-{}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let (sink, writer) = CdrSink::start(path.clone());
        sink.transfer("STR_1", "SCL_1", "+15550999").finish(
            false,
            SipTransferReason::StrRejected,
            Some((486, "Busy Here")),
            "sipfrag 486 Busy Here",
        );
        sink.transfer("STR_2", "SCL_1", "sip:q@pbx").finish(
            true,
            SipTransferReason::StrCallEnded,
            None,
            "",
        );
        drop(sink.transfer("STR_3", "SCL_1", "+1"));
        drop(sink);
        writer.await.unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["transferId"], "STR_1");
        assert_eq!(lines[0]["callId"], "SCL_1");
        assert_eq!(lines[0]["transferTo"], "+15550999");
        assert_eq!(lines[0]["transferStatus"], "STS_TRANSFER_FAILED");
        assert_eq!(lines[0]["reason"], "STR_REJECTED");
        assert_eq!(lines[0]["transferStatusCode"]["code"], 486);
        assert_eq!(lines[0]["transferStatusCode"]["status"], "Busy Here");
        assert_eq!(lines[0]["error"], "sipfrag 486 Busy Here");
        assert_eq!(lines[1]["transferStatus"], "STS_TRANSFER_SUCCESSFUL");
        assert_eq!(lines[1]["reason"], "STR_CALL_ENDED");
        assert!(lines[1].get("transferStatusCode").is_none());
        assert_eq!(lines[2]["transferId"], "STR_3");
        assert_eq!(lines[2]["reason"], "STR_UNSPECIFIED");
        assert_eq!(lines[2]["transferStatusCode"]["code"], 500);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_sipfrag_code_the_protocol_enum_does_not_name_is_written_as_received() {
        let info = SipTransferInfo {
            transfer_id: "STR_1".into(),
            transfer_status_code: Some(SipStatus {
                code: 699,
                status: "Unknown Global Failure".into(),
            }),
            ..SipTransferInfo::default()
        };
        let line = to_json(&info).unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["transferStatusCode"]["code"], 699, "{line}");
        assert_eq!(json["transferId"], "STR_1", "{line}");
    }
}
