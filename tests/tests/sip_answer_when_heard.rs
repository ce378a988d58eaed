//! A dispatch rule's `ringing_timeout`: the bridge keeps the caller ringing while it waits in
//! the room, and answers only once a room member subscribes to the caller's audio. The phone
//! is pjsip's user agent (`tests/py/phone.py`), the room member the official Python SDK
//! subscribing on its own schedule (`--subscribe-after`). Prints how long after the
//! subscription the phone had its 200 OK (p50 over 20 calls).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::{Bed, RoomMember};

const WAIT: Duration = Duration::from_secs(30);
const PHONE_IDENTITY: &str = "sip_+15557770009";
const PHONE_HZ: f64 = 700.0;
const ROOM_HZ: f64 = 1200.0;

fn ms(event: &Value, key: &str) -> f64 {
    event[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {event}"))
}

fn hz(event: &Value) -> f64 {
    ms(event, "hz")
}

fn phone_calls(bed: &Bed, number: &str) -> RoomMember {
    let uri = format!("sip:{number}@{}", bed.sip_addr);
    RoomMember::script(bed, "py/phone.py", "phone", &["--uri", &uri])
}

/// A member of `room` that subscribes to each caller `after` seconds after it is published.
fn listener(bed: &Bed, room: &str, after: f64) -> RoomMember {
    let after = after.to_string();
    let args = ["--subscribe-after", after.as_str(), "--commands"];
    let mut member = RoomMember::join(bed, room, "agent", &args);
    member.expect("joined", WAIT);
    member
}

/// Audio both ways once answered, by content: the phone's tone in the room, the member's
/// tone at the phone.
fn hear_each_other(phone: &mut RoomMember, member: &mut RoomMember) {
    phone.command(json!({"cmd": "play", "hz": PHONE_HZ}));
    member.command(json!({"cmd": "detect_tone", "from": PHONE_IDENTITY, "timeout": 10}));
    let heard = member.expect_where("tone", WAIT, |e| e["from"] == PHONE_IDENTITY);
    assert!((hz(&heard) - PHONE_HZ).abs() <= 10.0, "room heard {heard}");
    member.command(json!({"cmd": "publish_tone", "hz": ROOM_HZ}));
    let published = member.expect("published", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let after = ms(&published, "unix_ms");
    phone.command(json!({"cmd": "analyze", "after_unix_ms": after, "seconds": 1.0}));
    let phone_heard = phone.expect("tone", WAIT);
    assert!(
        (hz(&phone_heard) - ROOM_HZ).abs() <= 12.0,
        "phone heard {phone_heard}"
    );
}

/// The phone hangs up the call `confirmed` reported; its record.
fn hang_up(bed: &Bed, phone: &mut RoomMember, member: &mut RoomMember, confirmed: &Value) -> Value {
    phone.command(json!({"cmd": "hangup"}));
    assert_eq!(phone.expect("disconnected", WAIT)["code"], 200);
    member.expect_where("left", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    let call_id = confirmed["call_id"].as_str().unwrap();
    bed.cdr_of(call_id, WAIT)
}

#[test]
fn the_phone_rings_until_a_room_member_subscribes_then_both_hear_each_other() {
    let test = "the_phone_rings_until_a_room_member_subscribes_then_both_hear_each_other";
    let Some(bed) = Bed::get(test) else { return };
    let mut member = listener(&bed, "wait-+15550171", 3.0);
    let mut phone = phone_calls(&bed, "+15550171");
    let ringing = phone.expect("ringing", WAIT);
    assert_eq!(ringing["code"], 180, "{ringing}");
    let subscribing = member.expect_where("subscribing", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    let confirmed = phone.expect("confirmed", WAIT);
    let rang = ms(&confirmed, "unix_ms") - ms(&ringing, "unix_ms");
    let after_subscribing = ms(&confirmed, "unix_ms") - ms(&subscribing, "unix_ms");
    println!(
        "the phone rang {rang:.0} ms; 200 OK {after_subscribing:.0} ms after the member subscribed"
    );
    assert!(
        rang >= 2500.0,
        "answered after {rang} ms, before anyone subscribed"
    );
    assert!(after_subscribing >= 0.0, "answered before the subscription");
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    hear_each_other(&mut phone, &mut member);
    let record = hang_up(&bed, &mut phone, &mut member, &confirmed);
    assert_eq!(record["disconnectReason"], "CLIENT_INITIATED", "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Remote hangup",
        "{record}"
    );
}

#[test]
fn with_early_media_the_phone_hears_ringback_until_the_answer() {
    let test = "with_early_media_the_phone_hears_ringback_until_the_answer";
    let Some(bed) = Bed::get(test) else { return };
    let mut member = listener(&bed, "early-+15550174", 6.0);
    let mut phone = phone_calls(&bed, "+15550174");
    let ringing = phone.expect("ringing", WAIT);
    assert_eq!(ringing["code"], 183, "{ringing}");
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    // Ringback (US: 440 + 480 Hz, 2 s on) while the caller waits in the room; the phone's
    // recorder writes its file in 2 s chunks, so the first second is in it well before 4.5 s.
    std::thread::sleep(Duration::from_millis(4500));
    let since = ms(&ringing, "unix_ms");
    phone.command(json!({"cmd": "analyze", "after_unix_ms": since, "seconds": 1.0}));
    let ringback = phone.expect("tone", WAIT);
    assert!(
        (430.0..=490.0).contains(&hz(&ringback)),
        "the phone heard {ringback} while ringing"
    );
    let confirmed = phone.expect("confirmed", WAIT);
    let rang = ms(&confirmed, "unix_ms") - since;
    println!(
        "early media: ringback at {:.1} Hz, answered after {rang:.0} ms",
        hz(&ringback)
    );
    assert!(
        rang >= 3500.0,
        "answered after {rang} ms, before anyone subscribed"
    );
    hear_each_other(&mut phone, &mut member);
    hang_up(&bed, &mut phone, &mut member, &confirmed);
}

#[test]
fn no_one_subscribing_within_the_ringing_timeout_ends_the_call_with_480() {
    let test = "no_one_subscribing_within_the_ringing_timeout_ends_the_call_with_480";
    let Some(bed) = Bed::get(test) else { return };
    // In the room, but never listening to the caller.
    let mut member = listener(&bed, "wait-+15550172", 3600.0);
    let mut phone = phone_calls(&bed, "+15550172");
    let ringing = phone.expect("ringing", WAIT);
    let ended = phone.expect("disconnected", WAIT);
    let waited = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64
        - ms(&ringing, "unix_ms");
    println!("the phone rang {waited:.0} ms, then {ended}");
    assert_eq!(ended["code"], 480, "{ended}");
    assert_eq!(ended["reason"], "No one answered in the room", "{ended}");
    assert!(
        waited >= 7000.0,
        "the rule's 8 s ringing_timeout was cut short: {waited} ms"
    );
    let left = member.expect_where("left", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "USER_UNAVAILABLE"
    );
    assert_eq!(left["attributes"]["sip.statusCode"], "480");
    let record = bed.cdr_of(ringing["call_id"].as_str().unwrap(), WAIT);
    assert_eq!(record["disconnectReason"], "USER_UNAVAILABLE", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 480, "{record}");
}

/// 20 calls in turn, each answered when the member subscribes (at once): how long after the
/// subscription the phone has its 200 OK. livekit-server's TrackSubscribed and one signal
/// round trip are most of it.
#[test]
fn time_from_subscription_to_200_ok_over_20_calls() {
    let test = "time_from_subscription_to_200_ok_over_20_calls";
    let Some(bed) = Bed::get(test) else { return };
    let mut member = listener(&bed, "wait-+15550173", 0.0);
    let mut delays = Vec::new();
    for _ in 0..20 {
        let mut phone = phone_calls(&bed, "+15550173");
        let subscribing =
            member.expect_where("subscribing", WAIT, |e| e["identity"] == PHONE_IDENTITY);
        let confirmed = phone.expect("confirmed", WAIT);
        delays.push(ms(&confirmed, "unix_ms") - ms(&subscribing, "unix_ms"));
        hang_up(&bed, &mut phone, &mut member, &confirmed);
    }
    delays.sort_by(f64::total_cmp);
    println!(
        "subscription → 200 OK at the phone over {} calls: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() * 9 / 10],
        delays[delays.len() - 1]
    );
    assert!(
        delays[0] >= 0.0,
        "a call was answered before the subscription: {delays:?}"
    );
}
