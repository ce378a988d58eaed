//! The one task that writes the record file and keeps the live-call journal (`journal`), in
//! the order the calls asked: a call's journal entry goes only once its final record is in
//! the file and synced. When the file cannot be written (disk full, directory read-only,
//! removed), records wait in memory — up to [`MAX_PENDING`] bytes, beyond which the oldest
//! go to the log — and are written when the file works again, retried every
//! [`RETRY_EVERY`]; each failed attempt is counted (`sipbridge_cdr_write_failures_total`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use livekit_protocol::SipCallInfo;
use prometheus_client::metrics::counter::Counter;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::hangup::{self, KeptBye};
use super::{Record, Report, Written, journal, to_json};

/// Records held while the file cannot be written: at ~1 KiB a record, some 16,000 calls.
const MAX_PENDING: usize = 16 * 1024 * 1024;

/// How often records held in memory are tried again when no new record comes.
const RETRY_EVERY: Duration = Duration::from_secs(5);

pub(super) struct Writer {
    pub(super) path: PathBuf,
    pub(super) report: Option<Report>,
    pub(super) failures: Option<Counter>,
}

/// What the file still owes: lines not yet written, and the final records of their calls,
/// whose journal entries go once they are written. While the file fails, those final records
/// are journalled themselves (the first `journalled` of them so far), so a crash meanwhile
/// loses none.
#[derive(Default)]
struct Pending {
    lines: String,
    finished: Vec<SipCallInfo>,
    journalled: usize,
}

impl Writer {
    pub(super) async fn run(self, mut queue: mpsc::UnboundedReceiver<Record>) {
        let journal = journal::directory(&self.path);
        let mut file = None;
        let mut pending = Pending::default();
        let mut batch = Vec::new();
        let mut failing = false;
        loop {
            let open = if pending.lines.is_empty() {
                queue.recv_many(&mut batch, 256).await > 0
            } else {
                tokio::select! {
                    received = queue.recv_many(&mut batch, 256) => received > 0,
                    () = tokio::time::sleep(RETRY_EVERY) => true,
                }
            };
            if !open && pending.lines.is_empty() {
                return;
            }
            let work = self.take(std::mem::take(&mut batch), &mut pending);
            work.run(&journal).await;
            match write(&self.path, &mut file, &pending.lines).await {
                Ok(()) => {
                    if failing {
                        tracing::info!(path = %self.path.display(), "call detail records written again");
                        failing = false;
                    }
                    pending.lines.clear();
                    pending.journalled = 0;
                    let done = std::mem::take(&mut pending.finished);
                    let dir = journal.clone();
                    run_blocking(move || {
                        done.iter()
                            .for_each(|info| journal::forget(&dir, &info.call_id));
                    })
                    .await;
                }
                Err(error) => {
                    file = None;
                    if let Some(failures) = &self.failures {
                        failures.inc();
                    }
                    if !failing {
                        tracing::error!(path = %self.path.display(), %error, "call detail records cannot be written: kept in memory and retried");
                        failing = true;
                    }
                    shed(&mut pending.lines);
                    let unjournalled = pending.finished[pending.journalled..].to_vec();
                    pending.journalled = pending.finished.len();
                    JournalWork {
                        notes: unjournalled,
                        ..JournalWork::default()
                    }
                    .run(&journal)
                    .await;
                }
            }
            if !open {
                // The last sink is gone; what still cannot be written goes to the log.
                if !pending.lines.is_empty() {
                    tracing::error!(records = %pending.lines.trim_end(), "call detail records not written to the file");
                }
                return;
            }
        }
    }

    /// Turns a batch into lines owed to the file and the journal's work; a call that both
    /// started and ended in the batch is never journalled.
    fn take(&self, batch: Vec<Record>, pending: &mut Pending) -> JournalWork {
        let ended: HashSet<String> = batch
            .iter()
            .filter_map(|record| match record {
                Record::Call(info) => Some(info.call_id.clone()),
                Record::Forget(call_id) => Some(call_id.clone()),
                _ => None,
            })
            .collect();
        let mut work = JournalWork::default();
        for record in batch {
            let written = match &record {
                Record::Live(info) => {
                    if !ended.contains(&info.call_id) {
                        work.notes.push((**info).clone());
                    }
                    continue;
                }
                Record::KeepBye(call_id, bye) => {
                    if !ended.contains(call_id) {
                        work.byes_kept.push((call_id.clone(), bye.clone()));
                    }
                    continue;
                }
                Record::Forget(call_id) => {
                    work.forgotten.push(call_id.clone());
                    continue;
                }
                Record::Call(info) => Written::Call(info.clone()),
                Record::Transfer(info) => Written::Transfer(info.clone()),
            };
            if let Some(report) = &self.report {
                report(written);
            }
            if let Record::Call(info) = &record {
                pending.finished.push((**info).clone());
                // The call ended here, its far end told: nothing to send after a crash, even
                // while its record waits for the file.
                work.byes_done.push(info.call_id.clone());
            }
            match to_json(&record) {
                Ok(json) => {
                    pending.lines.push_str(&json);
                    pending.lines.push('\n');
                }
                Err(error) => {
                    tracing::error!(%error, ?record, "call detail record not serializable");
                }
            }
        }
        work
    }
}

/// Journal entries to write, and those to remove, of one batch; and the calls' kept BYEs
/// (`hangup`).
#[derive(Default)]
struct JournalWork {
    notes: Vec<SipCallInfo>,
    forgotten: Vec<String>,
    byes_kept: Vec<(String, KeptBye)>,
    byes_done: Vec<String>,
}

impl JournalWork {
    /// Done in one blocking step, off the runtime's threads.
    async fn run(self, journal: &Path) {
        let Self {
            notes,
            forgotten,
            byes_kept,
            byes_done,
        } = self;
        if notes.is_empty() && forgotten.is_empty() && byes_kept.is_empty() && byes_done.is_empty()
        {
            return;
        }
        let dir = journal.to_owned();
        run_blocking(move || {
            forgotten.iter().for_each(|id| journal::forget(&dir, id));
            byes_done.iter().for_each(|id| hangup::forget(&dir, id));
            for (call_id, bye) in byes_kept {
                if let Err(error) = hangup::keep(&dir, &call_id, &bye) {
                    tracing::warn!(%call_id, %error, "the call's BYE not kept for a crash");
                }
            }
            for info in notes {
                // Synced once answered (or ended): a call that reached its answer is never
                // lost.
                let sync = info.started_at_ns != 0 || info.ended_at_ns != 0;
                if let Err(error) = journal::note(&dir, &info, sync) {
                    tracing::warn!(call_id = %info.call_id, %error, "live-call journal entry not written");
                }
            }
        })
        .await;
    }
}

/// Appends `lines` and syncs, opening the file first if it is not open.
async fn write(
    path: &Path,
    file: &mut Option<tokio::fs::File>,
    lines: &str,
) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    if file.is_none() {
        let opened = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        *file = Some(opened);
    }
    let Some(open) = file.as_mut() else {
        return Err(std::io::Error::other("no file"));
    };
    open.write_all(lines.as_bytes()).await?;
    open.sync_data().await
}

/// Keeps the newest records within [`MAX_PENDING`]; the oldest go to the log.
fn shed(lines: &mut String) {
    if lines.len() <= MAX_PENDING {
        return;
    }
    let excess = lines.len() - MAX_PENDING;
    let cut = lines[excess..]
        .find('\n')
        .map_or(lines.len(), |at| excess + at + 1);
    let dropped: String = lines.drain(..cut).collect();
    tracing::error!(records = %dropped.trim_end(), "call detail records dropped from memory: the file has been unwritable too long");
}

async fn run_blocking(work: impl FnOnce() + Send + 'static) {
    if let Err(error) = tokio::task::spawn_blocking(work).await {
        tracing::error!(%error, "record file work failed");
    }
}
