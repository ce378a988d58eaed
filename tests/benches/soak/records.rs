//! Calls in = records out: every call the soak attempted (by SIP Call-ID for the phones'
//! calls, by participant identity for the API's) against the record file, one to one, and
//! every transfer asked for against the transfer lines; the outcomes by stream.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

/// The calls one stream attempted.
#[derive(Debug)]
pub(crate) struct Attempts {
    pub(crate) stream: String,
    /// Records are found by `sipCallId` (phones calling in) or by `participantIdentity`
    /// (calls placed through the API).
    pub(crate) by_identity: bool,
    pub(crate) ids: Vec<String>,
    /// The outcome each of its calls should end with: DisconnectReason and SIP code.
    pub(crate) expected: (&'static str, u16),
    /// Its answered calls count in the setup-time figures (a call answered at once).
    pub(crate) setup_timed: bool,
}

/// A transfer asked for through the API, on the call placed as `identity`.
#[derive(Debug)]
pub(crate) struct TransferAttempt {
    pub(crate) stream: String,
    pub(crate) identity: String,
    /// The transfer line expected: its `reason` and status code (`STR_COMPLETED 200`).
    pub(crate) expected: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    pub(crate) attempted: usize,
    pub(crate) records: usize,
    /// Attempts without a record, and with more than one.
    pub(crate) missing: usize,
    pub(crate) duplicated: usize,
    /// Records of no attempt.
    pub(crate) unattempted: usize,
    /// Calls, and transfer lines, that ended otherwise than their stream should.
    pub(crate) unexpected_outcomes: usize,
    pub(crate) transfers_attempted: usize,
    pub(crate) transfers_missing: usize,
    pub(crate) setup_ms: BTreeMap<&'static str, Vec<f64>>,
}

impl Reconciled {
    pub(crate) fn one_to_one(&self) -> bool {
        self.missing == 0
            && self.duplicated == 0
            && self.unattempted == 0
            && self.transfers_missing == 0
    }
}

/// Reads `cdr` and prints, per stream, attempts, records and outcomes; returns the totals.
pub(crate) fn reconcile(
    cdr: &Path,
    streams: &[Attempts],
    transfers: &[TransferAttempt],
) -> Reconciled {
    let text = std::fs::read_to_string(cdr).unwrap_or_default();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every record line is JSON"))
        .collect();
    let (transfer_lines, calls): (Vec<&Value>, Vec<&Value>) = lines
        .iter()
        .partition(|line| line.get("transferId").is_some());
    let mut by_key: HashMap<(bool, &str), Vec<&Value>> = HashMap::new();
    for call in &calls {
        for by_identity in [false, true] {
            let field = if by_identity {
                "participantIdentity"
            } else {
                "sipCallId"
            };
            if let Some(key) = call[field].as_str() {
                by_key.entry((by_identity, key)).or_default().push(call);
            }
        }
    }

    let mut totals = Reconciled {
        records: calls.len(),
        ..Reconciled::default()
    };
    let mut matched = 0;
    println!(
        "{:<24} {:>9} {:>8} {:>8} {:>11}  outcomes (expected first)",
        "stream", "attempted", "records", "missing", "duplicated"
    );
    for stream in streams {
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        let (mut records, mut missing, mut duplicated) = (0, 0, 0);
        for id in &stream.ids {
            let found = by_key
                .get(&(stream.by_identity, id.as_str()))
                .map_or(&[][..], Vec::as_slice);
            records += found.len();
            match found.len() {
                0 => missing += 1,
                1 => {}
                _ => duplicated += 1,
            }
            for record in found {
                let outcome = outcome_of(record);
                if outcome != (stream.expected.0.to_owned(), stream.expected.1) {
                    totals.unexpected_outcomes += 1;
                }
                *outcomes
                    .entry(format!("{} {}", outcome.0, outcome.1))
                    .or_default() += 1;
                if stream.setup_timed
                    && let Some(ms) = setup_ms(record)
                {
                    let direction = if stream.by_identity {
                        "outbound"
                    } else {
                        "inbound"
                    };
                    totals.setup_ms.entry(direction).or_default().push(ms);
                }
            }
        }
        matched += records;
        totals.attempted += stream.ids.len();
        totals.missing += missing;
        totals.duplicated += duplicated;
        let expected = format!("{} {}", stream.expected.0, stream.expected.1);
        let mut shown = vec![format!(
            "{expected} ×{}",
            outcomes.remove(&expected).unwrap_or(0)
        )];
        shown.extend(outcomes.iter().map(|(o, n)| format!("{o} ×{n}")));
        println!(
            "{:<24} {:>9} {:>8} {:>8} {:>11}  {}",
            stream.stream,
            stream.ids.len(),
            records,
            missing,
            duplicated,
            shown.join(", ")
        );
    }
    totals.unattempted = calls.len().saturating_sub(matched);

    // Transfers: each asked for on a call that has a record finds its line by the call's id.
    let call_id_of: HashMap<&str, &str> = calls
        .iter()
        .filter_map(|c| Some((c["participantIdentity"].as_str()?, c["callId"].as_str()?)))
        .collect();
    let mut per_call: HashMap<&str, Vec<&Value>> = HashMap::new();
    for line in &transfer_lines {
        if let Some(call) = line["callId"].as_str() {
            per_call.entry(call).or_default().push(line);
        }
    }
    let mut by_stream: BTreeMap<&str, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for transfer in transfers {
        let entry = by_stream.entry(transfer.stream.as_str()).or_default();
        entry.0 += 1;
        let found = call_id_of
            .get(transfer.identity.as_str())
            .and_then(|call| per_call.get(call))
            .map_or(&[][..], Vec::as_slice);
        if found.len() != 1 {
            totals.transfers_missing += 1;
        }
        for line in found {
            entry.1 += 1;
            let result = format!(
                "{} {}",
                line["reason"].as_str().unwrap_or("?"),
                line["transferStatusCode"]["code"]
            );
            if result != transfer.expected {
                totals.unexpected_outcomes += 1;
            }
            *entry.2.entry(result).or_default() += 1;
        }
    }
    totals.transfers_attempted = transfers.len();
    for (stream, (asked, lines, results)) in &by_stream {
        let expected = transfers
            .iter()
            .find(|t| t.stream == *stream)
            .map_or("", |t| t.expected);
        let shown: Vec<String> = results.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
        println!(
            "{:<24} {asked:>9} {lines:>8}  transfer lines (expected {expected}): {}",
            format!("{stream} (transfer)"),
            shown.join(", ")
        );
    }
    totals
}

/// A record's DisconnectReason and SIP code.
fn outcome_of(record: &Value) -> (String, u16) {
    let reason = record["disconnectReason"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let code = record["callStatusCode"]["code"].as_u64().unwrap_or(0);
    (reason, u16::try_from(code).unwrap_or(0))
}

/// From the INVITE (or the API request) to the answer, for an answered call.
fn setup_ms(record: &Value) -> Option<f64> {
    let ns = |field: &str| match &record[field] {
        Value::String(text) => text.parse::<i64>().ok(),
        value => value.as_i64(),
    };
    let (created, started) = (ns("createdAtNs")?, ns("startedAtNs")?);
    (started > created).then(|| (started - created) as f64 / 1e6)
}

/// The `q` quantile (0–1) of `values`, nearest rank.
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}
