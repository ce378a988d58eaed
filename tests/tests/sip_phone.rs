//! A real SIP user agent calls in: pjsip's pjsua2 (PyPI `pjsua2-python`, `tests/py/phone.py`)
//! with a null sound device, a WAV tone as its microphone and a WAV recorder as its speaker.
//! Its 700 Hz reaches the Python room member, the member's 1.2 kHz reaches the phone's
//! recording; DTMF crosses both ways; after hold and unhold audio flows again. Prints the
//! one-way audio delay each way (tone start to first audible audio on the other side).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};
use sipbridge_tests::{Bed, RoomMember};

const WAIT: Duration = Duration::from_secs(30);
const PHONE_IDENTITY: &str = "sip_+15557770009";
const PHONE_HZ: f64 = 700.0;
const ROOM_HZ: f64 = 1200.0;

fn hz(event: &Value) -> f64 {
    event["hz"].as_f64().unwrap()
}

fn ms(event: &Value, key: &str) -> f64 {
    event[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {event}"))
}

#[test]
fn a_pjsua2_phone_and_a_room_member_hear_each_other_and_exchange_dtmf() {
    let Some(bed) = Bed::get("a_pjsua2_phone_and_a_room_member_hear_each_other_and_exchange_dtmf")
    else {
        return;
    };
    let mut member = RoomMember::join(
        &bed,
        "bed-+15550116",
        "agent",
        &["--detect-tone", "--timeout", "25", "--commands"],
    );
    member.expect("joined", WAIT);
    // pjsua2 sends RTCP receiver reports: our stream's loss and jitter as the phone saw it
    // reach the to_phone metrics when the call ends (SIPp sends none).
    let reported = "sipbridge_rtp_jitter_seconds_count{direction=\"to_phone\"}";
    let reported_before = bed.metric(reported);
    let uri = format!("sip:+15550116@{}", bed.sip_addr);
    let mut phone = RoomMember::script(&bed, "py/phone.py", "phone", &["--uri", &uri]);
    phone.expect("confirmed", WAIT);
    phone.expect_where("media", WAIT, |e| e["active"] == true);

    // Phone → room.
    phone.command(json!({"cmd": "play", "hz": PHONE_HZ}));
    let started = phone.expect("tone_start", WAIT);
    let heard = member.expect_where("tone", WAIT, |e| e["from"] == PHONE_IDENTITY);
    let phone_to_room = ms(&heard, "first_audio_unix_ms") - ms(&started, "unix_ms");
    assert!((hz(&heard) - PHONE_HZ).abs() <= 10.0, "room heard {heard}");

    // Room → phone.
    member.command(json!({"cmd": "publish_tone", "hz": ROOM_HZ}));
    let published = member.expect("published", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    phone.command(
        json!({"cmd": "analyze", "after_unix_ms": ms(&published, "unix_ms"), "seconds": 1.0}),
    );
    let phone_heard = phone.expect("tone", WAIT);
    let room_to_phone = ms(&phone_heard, "onset_unix_ms") - ms(&published, "unix_ms");
    assert!(
        (hz(&phone_heard) - ROOM_HZ).abs() <= 12.0,
        "phone heard {phone_heard}"
    );
    println!(
        "pjsua2: room heard {:.1} Hz, phone heard {:.1} Hz; one-way delay phone → room {phone_to_room:.0} ms, \
         room → phone {room_to_phone:.0} ms",
        hz(&heard),
        hz(&phone_heard)
    );

    // DTMF both ways, in order.
    phone.command(json!({"cmd": "dtmf", "digits": "159#"}));
    for digit in ["1", "5", "9", "#"] {
        let event = member.expect_where("dtmf", WAIT, |e| e["from"] == PHONE_IDENTITY);
        assert_eq!(event["digit"], digit, "room got {event}");
    }
    member.command(json!({"cmd": "dtmf", "digits": "2468"}));
    for digit in ["2", "4", "6", "8"] {
        let event = phone.expect("dtmf", WAIT);
        assert_eq!(event["digit"], digit, "phone got {event}");
    }

    // Hold and unhold (re-INVITEs with sendonly, then sendrecv): audio flows again after.
    phone.command(json!({"cmd": "hold"}));
    phone.expect_where("media", WAIT, |e| e["active"] == false);
    phone.command(json!({"cmd": "unhold"}));
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    let resumed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    member.command(json!({"cmd": "detect_tone", "from": PHONE_IDENTITY, "timeout": 10}));
    let again = member.expect_where("tone", WAIT, |e| e["from"] == PHONE_IDENTITY);
    assert!(
        (hz(&again) - PHONE_HZ).abs() <= 10.0,
        "after unhold the room heard {again}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    phone.command(json!({"cmd": "analyze", "after_unix_ms": resumed, "seconds": 1.0}));
    let phone_again = phone.expect("tone", WAIT);
    assert!(
        (hz(&phone_again) - ROOM_HZ).abs() <= 12.0,
        "after unhold the phone heard {phone_again}"
    );

    phone.command(json!({"cmd": "hangup"}));
    let ended = phone.expect("disconnected", WAIT);
    assert_eq!(ended["code"], 200);
    let left = member.expect_where("left", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "CLIENT_INITIATED"
    );
    assert_eq!(left["attributes"]["sip.statusReason"], "Remote hangup");
    // The participant leaves after the record and metrics are written.
    assert!(
        bed.metric(reported) > reported_before,
        "{reported}: the phone's RTCP reports did not reach the metrics"
    );
    drop(phone);
    drop(member);
}

#[test]
fn a_pin_room_admits_the_caller_after_the_right_pin() {
    let Some(bed) = Bed::get("a_pin_room_admits_the_caller_after_the_right_pin") else {
        return;
    };
    let mut member = RoomMember::join(&bed, "bed-pin", "host", &["--commands"]);
    member.expect("joined", WAIT);
    let uri = format!("sip:+15550160@{}", bed.sip_addr);
    let mut phone = RoomMember::script(&bed, "py/phone.py", "phone", &["--uri", &uri]);
    // Answered at once: the PIN is keyed over the answered call, to dial tone.
    phone.expect("confirmed", WAIT);
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    std::thread::sleep(Duration::from_millis(1500));
    phone.command(json!({"cmd": "analyze", "after_unix_ms": 0, "seconds": 0.5}));
    let prompt = phone.expect("tone", WAIT);
    println!("PIN prompt heard by the phone: {prompt}");
    // US dial tone is 350 + 440 Hz; the strongest of the two is what the analysis finds.
    assert!(
        (hz(&prompt) - 350.0).abs() < 15.0 || (hz(&prompt) - 440.0).abs() < 15.0,
        "{prompt}"
    );

    phone.command(json!({"cmd": "dtmf", "digits": "1111#"}));
    std::thread::sleep(Duration::from_secs(2));
    phone.command(json!({"cmd": "dtmf", "digits": "4321#"}));
    let arrived = member.expect_where("attributes", WAIT, |e| {
        e["from"] == PHONE_IDENTITY && e["attributes"]["sip.callStatus"] == "active"
    });
    assert_eq!(arrived["attributes"]["sip.ruleID"], "bed-pin-room");
    phone.command(json!({"cmd": "hangup"}));
    member.expect_where("left", WAIT, |e| e["identity"] == PHONE_IDENTITY);
    drop(phone);
    drop(member);
}

#[test]
fn three_wrong_pins_end_the_call() {
    let Some(bed) = Bed::get("three_wrong_pins_end_the_call") else {
        return;
    };
    let uri = format!("sip:+15550160@{}", bed.sip_addr);
    let mut phone = RoomMember::script(
        &bed,
        "py/phone.py",
        "phone",
        &["--uri", &uri, "--from-number", "+15557770010"],
    );
    let confirmed = phone.expect("confirmed", WAIT);
    phone.expect_where("media", WAIT, |e| e["active"] == true);
    for _ in 0..3 {
        phone.command(json!({"cmd": "dtmf", "digits": "9999"}));
        std::thread::sleep(Duration::from_millis(1800));
    }
    let ended = phone.expect("disconnected", WAIT);
    println!("after three wrong PINs the phone got: {ended}");
    assert_eq!(
        ended["code"], 200,
        "the bridge ends an answered call with BYE"
    );
    let record = bed.cdr_of(
        confirmed["call_id"].as_str().unwrap(),
        Duration::from_secs(10),
    );
    assert_eq!(record["disconnectReason"], "USER_REJECTED", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 403, "{record}");
    assert_eq!(record["callStatusCode"]["status"], "Wrong PIN", "{record}");
    drop(phone);
}
