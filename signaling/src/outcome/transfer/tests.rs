//! Every row of the transfer table in docs/OUTCOMES.md, as event sequences.

use super::*;
use SubscriptionState::{Active, Pending, Terminated};
use TransferEvent::{PeerBye, Timeout};

fn s(code: u16, reason: &str) -> SipStatus {
    SipStatus::new(code, reason)
}

fn refer(code: u16, reason: &str) -> TransferEvent {
    TransferEvent::ReferResponse(s(code, reason))
}

fn notify(code: u16, reason: &str, subscription: SubscriptionState) -> TransferEvent {
    TransferEvent::Notify {
        sipfrag: Some(s(code, reason)),
        subscription,
    }
}

fn failed(reason: TransferReason, code: u16, phrase: &str) -> TransferResult {
    TransferResult::Failed(TransferFailure {
        reason,
        status: s(code, phrase),
    })
}

/// Starts a transfer, feeds `events`, and returns every result.
fn run(events: Vec<TransferEvent>) -> (Transfer, Vec<TransferResult>) {
    let mut t = Transfer::new();
    assert_eq!(t.start(), Ok(()));
    let results = events.into_iter().map(|e| t.handle(e)).collect();
    (t, results)
}

#[test]
fn transfer_table() {
    use TransferReason::{Rejected, RingingTimeout, SubscriptionTerminated};
    use TransferResult::{CallEnded, Completed, Stale, Waiting};
    let cases: Vec<(&str, Vec<TransferEvent>, Vec<TransferResult>)> = vec![
        // REFER answered 4xx–6xx: error with that status, call stays up.
        (
            "REFER 403",
            vec![refer(403, "Forbidden")],
            vec![failed(Rejected, 403, "Forbidden")],
        ),
        (
            "REFER 405",
            vec![refer(405, "Method Not Allowed")],
            vec![failed(Rejected, 405, "Method Not Allowed")],
        ),
        (
            "REFER 501",
            vec![refer(100, "Trying"), refer(501, "Not Implemented")],
            vec![Waiting, failed(Rejected, 501, "Not Implemented")],
        ),
        (
            "REFER 603",
            vec![refer(603, "Decline")],
            vec![failed(Rejected, 603, "Decline")],
        ),
        // NOTIFY sipfrag 1xx: keep waiting.
        (
            "NOTIFY 100, 180",
            vec![
                refer(202, "Accepted"),
                notify(100, "Trying", Active),
                notify(180, "Ringing", Active),
                notify(183, "Session Progress", Pending),
            ],
            vec![Waiting, Waiting, Waiting, Waiting],
        ),
        // NOTIFY sipfrag 2xx: success COMPLETED with that status.
        (
            "NOTIFY 200",
            vec![
                refer(202, "Accepted"),
                notify(100, "Trying", Active),
                notify(200, "OK", Terminated),
            ],
            vec![Waiting, Waiting, Completed(s(200, "OK"))],
        ),
        (
            "NOTIFY 200 still active",
            vec![refer(202, "Accepted"), notify(200, "Ok then", Active)],
            vec![Waiting, Completed(s(200, "Ok then"))],
        ),
        // NOTIFY before the 202 (UDP reordering) still counts.
        (
            "NOTIFY before 202",
            vec![notify(200, "OK", Terminated), refer(202, "Accepted")],
            vec![Completed(s(200, "OK")), Stale],
        ),
        // NOTIFY sipfrag 3xx–6xx: error with the sipfrag status, call stays up.
        (
            "NOTIFY 486",
            vec![refer(202, "Accepted"), notify(486, "Busy Here", Terminated)],
            vec![Waiting, failed(Rejected, 486, "Busy Here")],
        ),
        (
            "NOTIFY 603",
            vec![refer(202, "Accepted"), notify(603, "Decline", Active)],
            vec![Waiting, failed(Rejected, 603, "Decline")],
        ),
        (
            "NOTIFY 480",
            vec![
                refer(202, "Accepted"),
                notify(480, "Temporarily Unavailable", Terminated),
            ],
            vec![
                Waiting,
                failed(RingingTimeout, 480, "Temporarily Unavailable"),
            ],
        ),
        (
            "NOTIFY 408",
            vec![
                refer(202, "Accepted"),
                notify(408, "Request Timeout", Terminated),
            ],
            vec![Waiting, failed(RingingTimeout, 408, "Request Timeout")],
        ),
        (
            "NOTIFY 302",
            vec![refer(202, "Accepted"), notify(302, "Moved", Terminated)],
            vec![Waiting, failed(Rejected, 302, "Moved")],
        ),
        (
            "NOTIFY 503",
            vec![
                refer(202, "Accepted"),
                notify(503, "Service Unavailable", Terminated),
            ],
            vec![Waiting, failed(Rejected, 503, "Service Unavailable")],
        ),
        // Subscription terminated with no final status: 487 "Subscription terminated".
        (
            "terminated after 180",
            vec![refer(202, "Accepted"), notify(180, "Ringing", Terminated)],
            vec![
                Waiting,
                failed(SubscriptionTerminated, 487, "Subscription terminated"),
            ],
        ),
        (
            "terminated without body",
            vec![
                refer(202, "Accepted"),
                TransferEvent::Notify {
                    sipfrag: None,
                    subscription: Active,
                },
                TransferEvent::Notify {
                    sipfrag: None,
                    subscription: Terminated,
                },
            ],
            vec![
                Waiting,
                Waiting,
                failed(SubscriptionTerminated, 487, "Subscription terminated"),
            ],
        ),
        (
            "terminated with an impossible code",
            vec![notify(700, "Huh", Terminated)],
            vec![failed(
                SubscriptionTerminated,
                487,
                "Subscription terminated",
            )],
        ),
        // Peer BYE before any final NOTIFY: success CALL_ENDED, status 0.
        (
            "BYE after 180",
            vec![
                refer(202, "Accepted"),
                notify(180, "Ringing", Active),
                PeerBye,
            ],
            vec![Waiting, Waiting, CallEnded],
        ),
        ("BYE right away", vec![PeerBye], vec![CallEnded]),
        // No final NOTIFY before the timeout: 408 "Transfer timeout".
        (
            "timeout",
            vec![
                refer(202, "Accepted"),
                notify(180, "Ringing", Active),
                Timeout,
            ],
            vec![
                Waiting,
                Waiting,
                failed(RingingTimeout, 408, "Transfer timeout"),
            ],
        ),
        (
            "REFER unanswered",
            vec![Timeout],
            vec![failed(RingingTimeout, 408, "Transfer timeout")],
        ),
        // After a final result, later events report nothing.
        (
            "events after success",
            vec![
                notify(200, "OK", Active),
                notify(200, "OK", Terminated),
                PeerBye,
                Timeout,
            ],
            vec![Completed(s(200, "OK")), Stale, Stale, Stale],
        ),
        (
            "events after failure",
            vec![
                refer(403, "Forbidden"),
                notify(200, "OK", Terminated),
                Timeout,
            ],
            vec![failed(Rejected, 403, "Forbidden"), Stale, Stale],
        ),
    ];
    for (name, events, want) in cases {
        let (_, got) = run(events);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn second_transfer_while_one_is_in_flight() {
    let mut t = Transfer::new();
    assert_eq!(t.start(), Ok(()));
    let busy = TransferFailure {
        reason: TransferReason::Unspecified,
        status: s(491, "Transfer in progress"),
    };
    assert_eq!(t.start(), Err(busy.clone()));
    // The first one carries on undisturbed.
    assert!(t.in_flight());
    assert_eq!(
        t.handle(notify(200, "OK", Terminated)),
        TransferResult::Completed(s(200, "OK"))
    );
    // The call is leaving now: no new transfer either.
    assert_eq!(t.start(), Err(busy));
}

#[test]
fn a_failed_transfer_can_be_retried() {
    let (mut t, _) = run(vec![notify(486, "Busy Here", Terminated)]);
    assert!(!t.in_flight());
    assert_eq!(t.completed(), None);
    assert_eq!(t.start(), Ok(()));
    assert_eq!(t.handle(PeerBye), TransferResult::CallEnded);
    assert_eq!(t.start(), Ok(()));
}

#[test]
fn completed_status_is_kept_for_the_call_outcome() {
    use crate::outcome::{DisconnectReason, EstablishedEnd, Outcome};
    let (t, _) = run(vec![refer(202, "Accepted"), notify(200, "OK", Active)]);
    let status = t.completed().cloned();
    assert_eq!(status, Some(s(200, "OK")));
    // The successful transfer's call outcome: CLIENT_INITIATED with the sipfrag status.
    let end = EstablishedEnd::Transferred(s(200, "OK"));
    assert_eq!(
        end.outcome(),
        Outcome::new(DisconnectReason::ClientInitiated, s(200, "OK"))
    );
}

#[test]
fn events_without_a_transfer_are_stale() {
    let mut t = Transfer::new();
    for e in [
        refer(202, "Accepted"),
        notify(200, "OK", Terminated),
        PeerBye,
        Timeout,
    ] {
        assert_eq!(t.handle(e), TransferResult::Stale);
    }
    assert!(!t.in_flight());
}

#[test]
fn transfer_reason_names() {
    let names = [
        (TransferReason::Unspecified, "STR_UNSPECIFIED", 0),
        (TransferReason::Completed, "STR_COMPLETED", 1),
        (TransferReason::CallEnded, "STR_CALL_ENDED", 2),
        (TransferReason::Rejected, "STR_REJECTED", 3),
        (TransferReason::RingingTimeout, "STR_RINGING_TIMEOUT", 4),
        (
            TransferReason::SubscriptionTerminated,
            "STR_SUBSCRIPTION_TERMINATED",
            5,
        ),
        (TransferReason::Canceled, "STR_CANCELED", 6),
    ];
    for (r, name, number) in names {
        assert_eq!(r.as_str(), name);
        assert_eq!(r as i32, number);
    }
}

#[test]
fn bye_before_a_final_notify_ends_the_call_as_a_remote_hangup() {
    use crate::outcome::{DisconnectReason, EstablishedEnd};
    let (t, results) = run(vec![
        refer(202, "Accepted"),
        notify(180, "Ringing", Active),
        PeerBye,
    ]);
    assert_eq!(results.last(), Some(&TransferResult::CallEnded));
    // Not a completed transfer, so the call's own end is the peer's BYE.
    assert_eq!(t.completed(), None);
    let outcome = EstablishedEnd::RemoteBye.outcome();
    assert_eq!(outcome.reason, DisconnectReason::ClientInitiated);
    assert_eq!(outcome.status, s(200, "Remote hangup"));
}

#[test]
fn a_call_ended_by_the_bridge_abandons_the_transfer() {
    let (t, results) = run(vec![
        refer(202, "Accepted"),
        notify(100, "Trying", Active),
        TransferEvent::CallEnding,
    ]);
    assert_eq!(
        results.last(),
        Some(&failed(
            TransferReason::Canceled,
            487,
            "Call ended during transfer"
        ))
    );
    assert!(!t.in_flight());
    assert_eq!(t.completed(), None);
}
