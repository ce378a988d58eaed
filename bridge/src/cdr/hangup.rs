//! The BYE an answered call would send, kept beside its live-call journal entry
//! (`<call id>.bye`, written and synced at the answer, removed with the entry), so that a
//! bridge started again after a crash ends the calls the crash left up at the far end: their
//! phones and carriers get a BYE from the same address instead of a dead line until their own
//! timers give up. The calls' records are recovered by `journal`; this only tells the far
//! ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sipbridge_signaling::dialog::{Dialog, OutgoingRequest};
use sipbridge_signaling::message::{Limits, Message, Method, Request, Via, parse_message};
use sipbridge_signaling::transaction::Transport;
use tokio::sync::{mpsc, oneshot};

use crate::sip::link::{CallInput, Command};

/// How far the kept BYE's CSeq is ahead of the dialog's at the answer: the call may still
/// send requests of its own (re-INVITE, REFER, INFO) with higher ones, and a BYE whose CSeq
/// is not above them is refused (RFC 3261 §12.2.2). CSeq numbers only have to increase.
const CSEQ_AHEAD: u32 = 10_000;

/// A BYE ready to go, and where (over the transport its Via names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptBye {
    pub destination: SocketAddr,
    /// The request as it goes on the wire.
    pub message: String,
}

impl KeptBye {
    /// The BYE `dialog` would send now (without changing it), Via `via` (which names its
    /// transport), to the next hop or else `source`.
    pub fn of(dialog: &Dialog, via: Via, source: SocketAddr) -> Option<Self> {
        let OutgoingRequest {
            mut request,
            next_hop,
        } = dialog.clone().build_request(Method::Bye, via, None).ok()?;
        request.head.cseq.seq = request.head.cseq.seq.saturating_add(CSEQ_AHEAD);
        Some(Self {
            destination: next_hop.addr.unwrap_or(source),
            message: String::from_utf8_lossy(&request.to_bytes()).into_owned(),
        })
    }

    /// The request and the transport its Via names, or `None` if the file was not ours to
    /// read.
    pub fn request(&self) -> Option<(Request, Transport)> {
        let Ok(Message::Request(request)) =
            parse_message(self.message.as_bytes(), &Limits::default())
        else {
            return None;
        };
        let transport = Transport::from_via_name(&request.head.via.first()?.transport)?;
        Some((request, transport))
    }
}

fn path(dir: &Path, call_id: &str) -> PathBuf {
    dir.join(format!("{call_id}.bye"))
}

/// Keeps `bye` for the call `call_id`, synced.
pub(super) fn keep(dir: &Path, call_id: &str, bye: &KeptBye) -> std::io::Result<()> {
    let json = serde_json::to_vec(bye).map_err(std::io::Error::other)?;
    super::journal::write_synced(&path(dir, call_id), &json)
}

/// The call ended here (its own BYE went, or none was due): nothing to send after a crash.
pub(super) fn forget(dir: &Path, call_id: &str) {
    let _ = std::fs::remove_file(path(dir, call_id));
}

/// The BYEs the last run left (its calls did not end before it stopped), each with the file
/// to remove once it is sent.
pub fn left_over(cdr: &Path) -> Vec<(PathBuf, KeptBye)> {
    let dir = super::journal::directory(cdr);
    let mut byes = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "bye") {
            continue;
        }
        let kept = std::fs::read(&path)
            .ok()
            .and_then(|text| serde_json::from_slice::<KeptBye>(&text).ok());
        match kept {
            Some(bye) => byes.push((path, bye)),
            None => {
                tracing::warn!(path = %path.display(), "unreadable kept BYE removed");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    byes
}

/// Sends the BYEs the last run left ([`left_over`], read before the record writer starts:
/// it removes them as it writes their calls' recovered records) through the endpoint, each
/// its own client transaction, retransmitted as RFC 3261 says; logs how each far end
/// answered. One try each: a far end that answers none is gone too.
pub async fn send_left_over(byes: Vec<(PathBuf, KeptBye)>, endpoint: mpsc::Sender<Command>) {
    if byes.is_empty() {
        return;
    }
    tracing::warn!(
        calls = byes.len(),
        "calls answered when the bridge last stopped: sending their BYEs"
    );
    let mut sending = tokio::task::JoinSet::new();
    for (path, bye) in byes {
        let endpoint = endpoint.clone();
        sending.spawn(async move {
            send_one(&bye, &endpoint).await;
            let _ = tokio::fs::remove_file(&path).await;
        });
    }
    while sending.join_next().await.is_some() {}
}

/// Long enough for Timer F (64·T1 with the default T1) and a TCP connection attempt.
const ANSWER_WAIT: Duration = Duration::from_secs(40);

async fn send_one(bye: &KeptBye, endpoint: &mpsc::Sender<Command>) {
    let Some((request, transport)) = bye.request() else {
        tracing::warn!(destination = %bye.destination, "unreadable kept BYE dropped");
        return;
    };
    let call_id = request.head.call_id.clone();
    let (inputs, mut answers) = mpsc::channel(8);
    let (reply, _id) = oneshot::channel();
    let command = Command::Send {
        request,
        destination: bye.destination,
        transport,
        call: inputs,
        reply,
    };
    if endpoint.send(command).await.is_err() {
        return;
    }
    let answer = tokio::time::timeout(ANSWER_WAIT, async {
        while let Some(input) = answers.recv().await {
            match input {
                CallInput::Response { response, .. } if response.code >= 200 => {
                    return format!("{} {}", response.code, response.reason);
                }
                CallInput::Timeout { .. } => return "no answer".to_owned(),
                CallInput::TransportError { detail, .. } => return detail,
                _ => {}
            }
        }
        "no answer".to_owned()
    })
    .await
    .unwrap_or_else(|_| "no answer".to_owned());
    tracing::info!(%call_id, destination = %bye.destination, %answer, "BYE sent for a call the last run left up");
}

#[cfg(test)]
#[path = "hangup_tests.rs"]
mod tests;
