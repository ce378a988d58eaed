//! RFC 4028 session timers: negotiation (§7.2, §9), 422 (§6, §7.4), and the refresh and
//! expiry deadlines of §10 on a virtual clock.

use std::time::{Duration, Instant};

use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{
    Dialog, DialogEvent, DialogSet, Incoming, SessionTimer, TimerConfig, Verdict,
};
use sipbridge_signaling::message::{Headers, Method, Response};

use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// The carrier's INVITE with these timer headers, answered 200 at `t0`.
fn answered(timer_headers: &str, t0: Instant) -> (Response, Dialog) {
    let invite = carrier_invite(&[], timer_headers);
    let mut ok = Response::to(&invite, 200, None);
    let dialog =
        Dialog::new_uas(&invite, &mut ok, our_party(), TimerConfig::default(), t0).unwrap();
    (ok, dialog)
}

#[test]
fn uas_takes_the_refresher_role_when_left_to_it_and_refreshes_at_half_time() {
    let t0 = Instant::now();
    let (ok, mut dialog) = answered("Supported: timer\nSession-Expires: 1800\n", t0);
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("1800;refresher=uas")
    );
    assert!(ok.head.other.has_item("Require", "timer"));
    assert_eq!(
        dialog.session_timer(),
        Some(SessionTimer {
            interval: 1800,
            we_refresh: true
        })
    );
    events(&mut dialog);

    assert_eq!(dialog.poll_timeout(), Some(t0 + 900 * SECOND));
    dialog.handle_timeout(t0 + 900 * SECOND - Duration::from_millis(1));
    assert!(events(&mut dialog).is_empty());
    dialog.handle_timeout(t0 + 900 * SECOND);
    assert_eq!(events(&mut dialog), [DialogEvent::SessionRefreshDue]);

    // Our refresh carries the interval and says we (its UAC) refresh (§7.4).
    let refresh = dialog
        .build_request(Method::Update, via("z9hG4bKup"), None)
        .unwrap();
    let head = &refresh.request.head.other;
    assert_eq!(head.get("Session-Expires"), Some("1800;refresher=uac"));
    assert_eq!(head.get("Min-SE"), Some("90"));

    // Should the refresh never succeed, the session still expires: 1800 - 32 s.
    assert_eq!(dialog.poll_timeout(), Some(t0 + 1768 * SECOND));
    dialog.handle_timeout(t0 + 1768 * SECOND);
    assert_eq!(events(&mut dialog), [DialogEvent::SessionExpired]);
    assert_eq!(dialog.poll_timeout(), None);
}

#[test]
fn uas_copies_refresher_uac_and_expects_refreshes_from_the_peer() {
    let t0 = Instant::now();
    let headers = "Supported: timer\nSession-Expires: 1800;refresher=uac\nMin-SE: 600\n";
    let (ok, mut dialog) = answered(headers, t0);
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("1800;refresher=uac")
    );
    assert!(ok.head.other.has_item("Require", "timer"));
    // The peer refreshes: no refresh deadline for us, only the expiry (§10).
    assert_eq!(dialog.poll_timeout(), Some(t0 + 1768 * SECOND));

    // The peer refreshes at 900 s; the expiry moves to 900 + 1768 s.
    let t1 = t0 + 900 * SECOND;
    let refresh = carrier_in_dialog(
        "UPDATE",
        11,
        "Supported: timer\nSession-Expires: 1800;refresher=uac\n",
        "",
    );
    assert_eq!(dialog.receive_request(&refresh, 0), Ok(Verdict::Accept));
    let mut refreshed = Response::to(&refresh, 200, None);
    dialog.respond(&refresh, &mut refreshed, t1).unwrap();
    assert_eq!(
        refreshed.head.other.get("Session-Expires"),
        Some("1800;refresher=uac")
    );
    dialog.handle_timeout(t0 + 1768 * SECOND);
    assert!(
        events(&mut dialog)
            .iter()
            .all(|e| *e != DialogEvent::SessionExpired)
    );
    assert_eq!(dialog.poll_timeout(), Some(t1 + 1768 * SECOND));
    dialog.handle_timeout(t1 + 1768 * SECOND);
    assert!(events(&mut dialog).contains(&DialogEvent::SessionExpired));
}

#[test]
fn uas_never_raises_the_interval_and_never_lowers_it_below_the_peers_min_se() {
    let t0 = Instant::now();
    let (ok, _) = answered("Supported: timer\nSession-Expires: 3600\n", t0);
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("1800;refresher=uas")
    );
    let (ok, _) = answered(
        "Supported: timer\nSession-Expires: 1200\nMin-SE: 1000\n",
        t0,
    );
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("1200;refresher=uas")
    );
    let (ok, _) = answered(
        "Supported: timer\nSession-Expires: 7200\nMin-SE: 2400\n",
        t0,
    );
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("2400;refresher=uas")
    );
    // Supported without Session-Expires: we may ask for a timer (§9).
    let (ok, _) = answered("Supported: timer\n", t0);
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("1800;refresher=uas")
    );
    // Neither asked nor supported: no timer at all.
    let (ok, dialog) = answered("", t0);
    assert_eq!(ok.head.other.get("Session-Expires"), None);
    assert_eq!(dialog.session_timer(), None);
    assert_eq!(dialog.poll_timeout(), None);
}

#[test]
fn a_too_small_interval_gets_422_with_min_se_unless_the_peer_cannot_take_it() {
    let mut set = DialogSet::new(TimerConfig::default());
    let small = carrier_invite(&[], "Supported: timer\nSession-Expires: 60\n");
    let Incoming::Reject(response) = set.receive(&small, 0xdead_beef) else {
        panic!("60 s accepted");
    };
    assert_eq!(response.code, 422);
    assert_eq!(response.reason, "Session Interval Too Small");
    assert_eq!(response.head.other.get("Min-SE"), Some("90"));
    assert!(
        response.head.to.tag().is_some(),
        "a final response has a To tag"
    );

    // A stricter policy: 300 s.
    let strict = TimerConfig {
        min_se: 300,
        ..TimerConfig::default()
    };
    let mut set = DialogSet::new(strict);
    let medium = carrier_invite(&[], "Supported: timer\nSession-Expires: 120\n");
    assert!(
        matches!(set.receive(&medium, 0), Incoming::Reject(r) if r.code == 422
        && r.head.other.get("Min-SE") == Some("300"))
    );

    // Without Supported: timer the peer cannot retry after a 422 (§9): accepted, and we
    // refresh, at no less than the 90 s floor.
    let proxy_inserted = carrier_invite(&[], "Session-Expires: 60\n");
    assert_eq!(set.receive(&proxy_inserted, 0), Incoming::OutOfDialog);
    let t0 = Instant::now();
    let mut ok = Response::to(&proxy_inserted, 200, None);
    let dialog = Dialog::new_uas(&proxy_inserted, &mut ok, our_party(), strict, t0).unwrap();
    assert_eq!(
        ok.head.other.get("Session-Expires"),
        Some("90;refresher=uas")
    );
    assert!(!ok.head.other.has_item("Require", "timer"));
    assert_eq!(dialog.poll_timeout(), Some(t0 + 45 * SECOND));

    // In a dialog, a refresh asking for too little is refused the same way.
    let (_, mut dialog) = uas_dialog(&[], "", t0);
    let refresh = carrier_in_dialog("INVITE", 11, "Supported: timer\nSession-Expires: 30\n", "");
    let Ok(Verdict::Reject(response)) = dialog.receive_request(&refresh, 0) else {
        panic!("30 s accepted");
    };
    assert_eq!(response.code, 422);
}

#[test]
fn uac_refreshes_when_the_2xx_says_refresher_uac() {
    let t0 = Instant::now();
    let mut offer = Headers::new();
    TimerConfig::default().offer_headers(&mut offer);
    let offered: Vec<String> = offer.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
    let invite = our_invite(&offered.concat());
    assert_eq!(invite.head.other.get("Session-Expires"), Some("1800"));
    let ok = carrier_answer(
        "200 OK",
        "b1",
        "1 INVITE",
        "Contact: <sip:gw@198.51.100.9>\nRequire: timer\nSession-Expires: 90;refresher=uac\n",
    );
    let mut dialog = Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0).unwrap();
    assert_eq!(dialog.poll_timeout(), Some(t0 + 45 * SECOND));
    dialog.handle_timeout(t0 + 45 * SECOND);
    assert!(events(&mut dialog).contains(&DialogEvent::SessionRefreshDue));

    let refresh = dialog
        .build_request(Method::Invite, via("z9hG4bKrf"), None)
        .unwrap();
    assert_eq!(
        refresh.request.head.other.get("Session-Expires"),
        Some("90;refresher=uac")
    );
    // A 2xx without Session-Expires turns the timer off (§7.2).
    let t1 = t0 + 46 * SECOND;
    let plain = carrier_answer("200 OK", "b1", "2 INVITE", "");
    dialog.on_response(&refresh.request, &plain, t1, 0).unwrap();
    assert_eq!(dialog.session_timer(), None);
    assert_eq!(dialog.poll_timeout(), None);
}

#[test]
fn uac_expects_refreshes_when_the_2xx_says_refresher_uas() {
    let t0 = Instant::now();
    let invite = our_invite("Supported: timer\n");
    let ok = carrier_answer(
        "200 OK",
        "b1",
        "1 INVITE",
        "Contact: <sip:gw@198.51.100.9>\nSession-Expires: 90;refresher=uas\n",
    );
    let mut dialog = Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0).unwrap();
    // 90 s less min(32 s, 30 s).
    assert_eq!(dialog.poll_timeout(), Some(t0 + 60 * SECOND));
    dialog.handle_timeout(t0 + 60 * SECOND);
    assert!(events(&mut dialog).contains(&DialogEvent::SessionExpired));
}

#[test]
fn a_tiny_interval_in_a_2xx_is_raised_to_the_90_second_floor() {
    let t0 = Instant::now();
    let invite = our_invite("Supported: timer\n");
    let ok = carrier_answer(
        "200 OK",
        "b1",
        "1 INVITE",
        "Contact: <sip:gw@198.51.100.9>\nSession-Expires: 0;refresher=uac\n",
    );
    let dialog = Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0).unwrap();
    assert_eq!(dialog.session_timer().map(|t| t.interval), Some(90));
    assert_eq!(dialog.poll_timeout(), Some(t0 + 45 * SECOND));
}

#[test]
fn a_422_to_our_refresh_raises_the_interval_and_asks_for_another_refresh() {
    let t0 = Instant::now();
    let (_, mut dialog) = answered("Supported: timer\nSession-Expires: 90\n", t0);
    events(&mut dialog);
    let refresh = dialog
        .build_request(Method::Invite, via("z9hG4bKrf"), None)
        .unwrap();
    let mut too_small = Response::to(&refresh.request, 422, None);
    too_small.head.other.set("Min-SE", "1200");
    dialog
        .on_response(&refresh.request, &too_small, t0, 0)
        .unwrap();
    assert_eq!(events(&mut dialog), [DialogEvent::SessionRefreshDue]);
    let retry = dialog
        .build_request(Method::Invite, via("z9hG4bKrf2"), None)
        .unwrap();
    assert_eq!(
        retry.request.head.other.get("Session-Expires"),
        Some("1200;refresher=uac")
    );
}

#[test]
fn malformed_timer_headers_are_error_values() {
    let t0 = Instant::now();
    let invite = our_invite("");
    for bad in ["abc", "1800;refresher=maybe", "", "99999999999"] {
        let ok = carrier_answer(
            "200 OK",
            "b1",
            "1 INVITE",
            &format!("Contact: <sip:gw@198.51.100.9>\nSession-Expires: {bad}\n"),
        );
        assert!(
            matches!(
                Dialog::new_uac(&invite, &ok, TimerConfig::default(), t0),
                Err(Error::InvalidHeader {
                    header: "Session-Expires",
                    ..
                })
            ),
            "{bad}"
        );
    }
    // From a peer's request: 400, with the fault in the reason phrase.
    let mut set = DialogSet::new(TimerConfig::default());
    let invite = carrier_invite(&[], "Session-Expires: soon\n");
    let Incoming::Reject(response) = set.receive(&invite, 0) else {
        panic!("malformed Session-Expires accepted");
    };
    assert_eq!(response.code, 400);
    assert!(response.reason.contains("Session-Expires"));
    let invite = carrier_invite(&[], "Min-SE: -1\n");
    assert!(matches!(set.receive(&invite, 0), Incoming::Reject(r) if r.code == 400));
}
