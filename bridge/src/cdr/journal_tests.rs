//! The live-call journal on a scratch directory: what a crash leaves is recovered once, a
//! torn last line is cut, and a call whose record made it to the file is not written twice.
#![allow(clippy::unwrap_used)]

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipbridge-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cdr.jsonl")
}

fn call(id: &str, created: i64, started: i64) -> SipCallInfo {
    SipCallInfo {
        call_id: id.into(),
        created_at_ns: created,
        started_at_ns: started,
        room_name: "room".into(),
        ..SipCallInfo::default()
    }
}

#[test]
fn calls_left_in_the_journal_are_recovered_once_and_a_torn_line_is_cut() {
    let cdr = scratch("recover");
    let dir = directory(&cdr);
    std::fs::create_dir_all(&dir).unwrap();
    note(&dir, &call("SCL_ringing", 1, 0), false).unwrap();
    note(&dir, &call("SCL_answered", 2, 3), true).unwrap();
    // Its record reached the file, and the process died before its entry went.
    note(&dir, &call("SCL_written", 0, 0), false).unwrap();
    // Ended while the file could not be written: its final record was journalled.
    let mut ended = call("SCL_ended", 4, 5);
    close(
        &mut ended,
        DisconnectReason::UserRejected,
        486,
        "Busy Here",
        "",
    );
    note(&dir, &ended, true).unwrap();
    let whole = "{\"callId\":\"SCL_written\",\"disconnectReason\":\"CLIENT_INITIATED\"}\n";
    std::fs::write(&cdr, format!("{whole}{{\"callId\":\"SCL_torn\",\"disconn")).unwrap();

    let recovered = recover(&cdr);
    let ids: Vec<&str> = recovered.iter().map(|info| info.call_id.as_str()).collect();
    assert_eq!(
        ids,
        ["SCL_ringing", "SCL_answered", "SCL_ended"],
        "oldest first, the written one left out"
    );
    let final_one = recovered[2].call_status_code.as_ref().unwrap();
    assert_eq!(
        (final_one.code, final_one.status.as_str()),
        (486, "Busy Here"),
        "as it was"
    );
    for info in &recovered[..2] {
        let status = info.call_status_code.as_ref().unwrap();
        assert_eq!(status.code, i32::from(RECOVERED_CODE));
        assert_eq!(status.status, RECOVERED_STATUS);
        assert_eq!(
            info.disconnect_reason,
            DisconnectReason::UnknownReason as i32
        );
        assert!(info.ended_at_ns >= info.created_at_ns);
    }
    assert_eq!(recovered[0].call_status, 4, "never answered: SCS_ERROR");
    assert_eq!(recovered[1].call_status, 3, "answered: SCS_DISCONNECTED");
    assert_eq!(
        std::fs::read_to_string(&cdr).unwrap(),
        whole,
        "the torn line is cut"
    );
    assert!(!dir.join("SCL_written.json").exists());

    // Once queued, the recovered calls' entries go; a second start finds nothing.
    for info in &recovered {
        forget(&dir, &info.call_id);
    }
    assert!(recover(&cdr).is_empty());
}

#[test]
fn an_unreadable_entry_or_a_half_written_one_is_not_a_call() {
    let cdr = scratch("garbage");
    let dir = directory(&cdr);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("SCL_x.json"), b"{not json").unwrap();
    std::fs::write(dir.join("SCL_y.json.new"), b"{\"callId\":\"SCL_y\"}").unwrap();
    assert!(recover(&cdr).is_empty());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
