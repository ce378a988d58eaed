//! The journal of live calls, so that a call still in progress when the process dies
//! (SIGKILL, an OOM kill, a host crash) gets its record on the next start: one small file per
//! call in `<cdr.path>.live/`, holding the call's record as far as it goes, written when the
//! call starts and again, synced, when it is answered, and removed once its final record is
//! in the record file and synced. On start, every file left there becomes a record with the
//! "recovered after a restart" outcome (docs/OUTCOMES.md), unless the record file already
//! ends with that call's record (the process died between the two steps). While the record
//! file cannot be written, the writer journals a call's final record itself; that one is
//! written as it is.
//!
//! Also on start: a record file whose last line was cut short by the crash is cut back to
//! its last whole line, so JSON-lines readers never meet a broken one (the call of that line
//! is still in the journal, and recovered).

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use livekit_protocol::{DisconnectReason, SipCallInfo};

use super::close;

/// The recovered outcome's status: the bridge stopped without ending the call.
pub(super) const RECOVERED_CODE: u16 = 500;
pub(super) const RECOVERED_STATUS: &str = "Recovered after a bridge restart";

/// How much of the record file's end is searched for records of journalled calls: the
/// window between writing a record and removing its journal file is one batch.
const TAIL: u64 = 1024 * 1024;

/// The journal directory of a record file.
pub(super) fn directory(cdr: &Path) -> PathBuf {
    let mut name = cdr.as_os_str().to_owned();
    name.push(".live");
    PathBuf::from(name)
}

/// Writes the call's current record; `sync`: to the disk before returning (at the answer).
pub(super) fn note(dir: &Path, info: &SipCallInfo, sync: bool) -> std::io::Result<()> {
    let json = serde_json::to_vec(info).map_err(std::io::Error::other)?;
    write(&dir.join(format!("{}.json", info.call_id)), &json, sync)
}

/// Writes `path` whole and synced.
pub(super) fn write_synced(path: &Path, content: &[u8]) -> std::io::Result<()> {
    write(path, content, true)
}

fn write(path: &Path, content: &[u8], sync: bool) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(content)?;
    if sync {
        file.sync_data()?;
    }
    // Whole or not at all: a crash mid-write leaves the previous version.
    std::fs::rename(&temporary, path)
}

/// The call's record is in the file: its journal entry goes.
pub(super) fn forget(dir: &Path, call_id: &str) {
    let path = dir.join(format!("{call_id}.json"));
    if let Err(error) = std::fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "live-call journal entry not removed");
    }
}

/// The records of the calls the last run left in the journal, closed with the recovered
/// outcome (final ones as they are), oldest first; their journal entries are removed once the caller has queued them
/// (see [`forget`]). Also cuts a torn last line off the record file.
pub(super) fn recover(cdr: &Path) -> Vec<SipCallInfo> {
    let dir = directory(cdr);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        tracing::error!(path = %dir.display(), %error, "live-call journal unavailable: a crash would lose the records of calls in progress");
        return Vec::new();
    }
    match repair_tail(cdr) {
        Ok(0) => {}
        Ok(dropped) => tracing::warn!(
            path = %cdr.display(), dropped,
            "the record file ended in a torn line (the process died writing it): cut back to its last whole line"
        ),
        Err(error) => tracing::debug!(%error, "record file tail not checked"),
    }
    let written = recent_call_ids(cdr);
    let mut recovered = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "new") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // A call's kept BYE (`hangup`): sent once the bridge runs, not a record.
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let Some(mut info) = read_entry(&path) else {
            continue;
        };
        if written.contains(&info.call_id) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // A final record the file could not take before the process died: as it was.
        if info.ended_at_ns != 0 && info.call_status_code.is_some() {
            recovered.push(info);
            continue;
        }
        let last_seen = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        close(
            &mut info,
            DisconnectReason::UnknownReason,
            RECOVERED_CODE,
            RECOVERED_STATUS,
            "the bridge stopped while the call was in progress; the end time is the last the journal saw of it",
        );
        info.ended_at_ns = last_seen.max(info.started_at_ns).max(info.created_at_ns);
        recovered.push(info);
    }
    recovered.sort_by_key(|info| info.created_at_ns);
    if !recovered.is_empty() {
        tracing::warn!(
            calls = recovered.len(),
            "calls in progress when the bridge last stopped: recovered records written"
        );
    }
    recovered
}

fn read_entry(path: &Path) -> Option<SipCallInfo> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice::<SipCallInfo>(&text) {
        Ok(info) if !info.call_id.is_empty() => Some(info),
        _ => {
            tracing::warn!(path = %path.display(), "unreadable live-call journal entry removed");
            let _ = std::fs::remove_file(path);
            None
        }
    }
}

/// Cuts the file back to its last newline; how many bytes went.
fn repair_tail(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(0);
    }
    let start = length.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    if tail.last() == Some(&b'\n') {
        return Ok(0);
    }
    let keep = tail
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(start, |at| start + at as u64 + 1);
    file.set_len(keep)?;
    file.sync_data()?;
    Ok(length - keep)
}

/// The call ids of the records at the end of the file.
fn recent_call_ids(path: &Path) -> HashSet<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return HashSet::new();
    };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(TAIL)));
    let mut tail = String::new();
    let _ = file.read_to_string(&mut tail);
    tail.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record.get("transferId").is_none())
        .filter_map(|record| record["callId"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
