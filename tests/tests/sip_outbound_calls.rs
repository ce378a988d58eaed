//! Outbound calls that connect, end to end through the Twirp API: a real SIP phone (pjsua2)
//! answers and the audio crosses both ways with the request's DTMF; early media and ringback
//! reach the room before the answer; the request's options shape the INVITE (headers, From
//! display name, TCP, a YAML trunk) and the participant (200 OK headers as attributes, hidden
//! numbers, max call duration); digest challenges are answered with MD5 (SIPp checks it)
//! and SHA-256 (the bridge's own inbound side checks it); bad API requests get the Twirp
//! error that says what was wrong.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sipbridge_tests::api::{ApiCaller, Sdk, create_sip_participant};
use sipbridge_tests::sipp::{self, header, scenario};
use sipbridge_tests::sipp_uas::{BRIDGE_HANGS_UP, QOP_AUTH, RING_180, SDP_PCMA_PCMU, SippUas};
use sipbridge_tests::{Bed, OwnBridge, RoomMember};

const WAIT: Duration = Duration::from_secs(30);
const API_LIMIT: Duration = Duration::from_secs(60);

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn ms(event: &Value, key: &str) -> f64 {
    event[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {event}"))
}

fn hz(event: &Value) -> f64 {
    event["hz"].as_f64().unwrap()
}

fn ready(test: &str) -> Option<Bed> {
    let bed = Bed::get(test)?;
    sipp::available(test).then_some(bed)
}

#[test]
fn a_placed_call_to_a_pjsua2_phone_carries_audio_both_ways_and_dtmf() {
    let Some(bed) = ready("a_placed_call_to_a_pjsua2_phone_carries_audio_both_ways_and_dtmf")
    else {
        return;
    };
    let identity = "callee-phone";
    let mut member = RoomMember::join(
        &bed,
        "out-phone",
        "agent",
        &["--detect-tone", "--timeout", "25", "--commands"],
    );
    member.expect("joined", WAIT);
    let mut phone = RoomMember::script(
        &bed,
        "py/phone.py",
        "phone",
        &["--answer", "--answer-after", "1"],
    );
    let listening = phone.expect("listening", WAIT);
    let port = listening["port"].as_str().unwrap().to_owned();
    let request = json!({
        "trunk": { "hostname": format!("127.0.0.1:{port}") },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "out-phone",
        "participant_identity": identity,
        "wait_until_answered": true,
        "dtmf": "1w2#",
    });
    let dialled_at = now_ms();
    let reply = std::thread::scope(|scope| {
        let call = scope.spawn(|| create_sip_participant(&bed, Sdk::Node, &request, API_LIMIT));
        let incoming = phone.expect("incoming", WAIT);
        let confirmed = phone.expect("confirmed", WAIT);
        let reply = call.join().unwrap();
        println!(
            "post-dial delay (API request to the phone's INVITE) {:.0} ms; answered {:.0} ms \
             after ringing, API returned {} ms after the request",
            ms(&incoming, "unix_ms") - dialled_at,
            ms(&confirmed, "unix_ms") - ms(&incoming, "unix_ms"),
            reply.elapsed.as_millis()
        );
        reply
    });
    let info = reply.ok.expect("the call is answered");
    assert_eq!(info["participant_identity"], identity);
    assert_eq!(info["room_name"], "out-phone");
    assert!(info["sip_call_id"].as_str().unwrap().starts_with("SCL_"));

    // The request's DTMF, after the answer, as RFC 4733 events; `w` is a half-second pause.
    let digits: Vec<Value> = ["1", "2", "#"]
        .iter()
        .map(|digit| {
            let event = phone.expect("dtmf", WAIT);
            assert_eq!(event["digit"], *digit, "phone got {event}");
            event
        })
        .collect();
    let paused = ms(&digits[1], "unix_ms") - ms(&digits[0], "unix_ms");
    let unpaused = ms(&digits[2], "unix_ms") - ms(&digits[1], "unix_ms");
    println!("DTMF gaps: 1→2 (with w) {paused:.0} ms, 2→# {unpaused:.0} ms");
    assert!(
        paused >= unpaused + 250.0,
        "the w pause: {paused} vs {unpaused}"
    );

    // Phone → room, then room → phone, each by frequency, with the one-way delay.
    phone.command(json!({"cmd": "play", "hz": 700}));
    let started = phone.expect("tone_start", WAIT);
    let heard = member.expect_where("tone", WAIT, |e| e["from"] == identity);
    assert!((hz(&heard) - 700.0).abs() <= 10.0, "room heard {heard}");
    let phone_to_room = ms(&heard, "first_audio_unix_ms") - ms(&started, "unix_ms");
    member.command(json!({"cmd": "publish_tone", "hz": 1200}));
    let published = member.expect("published", WAIT);
    std::thread::sleep(Duration::from_secs(2));
    phone.command(
        json!({"cmd": "analyze", "after_unix_ms": ms(&published, "unix_ms"), "seconds": 1.0}),
    );
    let phone_heard = phone.expect("tone", WAIT);
    assert!(
        (hz(&phone_heard) - 1200.0).abs() <= 12.0,
        "phone heard {phone_heard}"
    );
    let room_to_phone = ms(&phone_heard, "onset_unix_ms") - ms(&published, "unix_ms");
    println!(
        "outbound call audio: room heard {:.1} Hz, phone heard {:.1} Hz; one-way delay phone → \
         room {phone_to_room:.0} ms, room → phone {room_to_phone:.0} ms",
        hz(&heard),
        hz(&phone_heard)
    );

    phone.command(json!({"cmd": "hangup"}));
    phone.expect("disconnected", WAIT);
    let left = member.expect_where("left", WAIT, |e| e["identity"] == identity);
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "CLIENT_INITIATED"
    );
    assert_eq!(left["attributes"]["sip.statusReason"], "Remote hangup");
}

#[test]
fn ringback_and_early_media_reach_the_room_before_the_answer() {
    let Some(bed) = ready("ringback_and_early_media_reach_the_room_before_the_answer") else {
        return;
    };
    // play_dialtone: US ringback (440 + 480 Hz) while the phone rings, which it does until
    // the ringing timeout.
    let ringing = scenario("uas_ring_forever", &[("RINGING", RING_180)]);
    let carrier = SippUas::start(&bed, "ringback", &ringing, 1, &[]);
    let mut member = RoomMember::join(
        &bed,
        "out-ringback",
        "agent",
        &["--detect-tone", "--timeout", "20", "--commands"],
    );
    member.expect("joined", WAIT);
    let request = json!({
        "trunk": { "hostname": carrier.addr() },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "out-ringback",
        "participant_identity": "callee-ringback",
        "play_dialtone": true,
        "ringing_timeout_s": 5,
    });
    let reply = create_sip_participant(&bed, Sdk::Python, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "dialling, not waiting: {reply:?}");
    let tone = member.expect_where("tone", WAIT, |e| e["from"] == "callee-ringback");
    println!("ringback heard in the room: {tone}");
    // Two equal components 40 Hz apart: the receiver's playout (which stretches audio that
    // arrives in bursts on a busy machine) can move the single strongest FFT peak between
    // them, so the check is the ringback band; the unit test `ringback_survives_opus` checks
    // both components. Speech or silence would not land here.
    assert!((430.0..=490.0).contains(&hz(&tone)), "{tone}");
    let left = member.expect_where("left", WAIT, |e| e["identity"] == "callee-ringback");
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "USER_UNAVAILABLE"
    );
    assert!(carrier.finish(WAIT).passed);

    // Early media: the 183's SDP starts the audio 3 s before the 200.
    let early = scenario(
        "uas_early_media",
        &[
            ("ANSWER_SDP", SDP_PCMA_PCMU),
            ("EARLY_MEDIA_MS", "3000"),
            ("HANGUP", BRIDGE_HANGS_UP),
        ],
    );
    let carrier = SippUas::start(&bed, "early-media", &early, 1, &[]);
    let mut member = RoomMember::join(
        &bed,
        "out-early",
        "agent",
        &["--detect-tone", "--timeout", "20", "--commands"],
    );
    member.expect("joined", WAIT);
    let request = json!({
        "trunk": { "hostname": carrier.addr() },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "out-early",
        "participant_identity": "callee-early",
        "wait_until_answered": true,
    });
    let dialled_at = now_ms();
    let reply = create_sip_participant(&bed, Sdk::Node, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "{reply:?}");
    let answered_at = dialled_at + reply.elapsed.as_secs_f64() * 1000.0;
    let heard = member.expect_where("tone", WAIT, |e| e["from"] == "callee-early");
    let before_answer = answered_at - ms(&heard, "first_audio_unix_ms");
    println!("early media heard in the room {before_answer:.0} ms before the answer");
    assert!(before_answer > 1000.0, "{heard}, answered at {answered_at}");
    member.command(json!({"cmd": "remove", "identity": "callee-early"}));
    let run = carrier.finish(WAIT);
    assert!(run.passed, "{}", run.trace);
}

#[test]
fn request_options_shape_the_invite_and_the_participant() {
    let test = "request_options_shape_the_invite_and_the_participant";
    let Some(bed) = ready(test) else { return };
    let answered = scenario(
        "uas_answer",
        &[
            ("RINGING", RING_180),
            ("ANSWER_SDP", SDP_PCMA_PCMU),
            ("EXTRA_HEADERS", "X-Carrier-Ref: abc123"),
            ("HANGUP", BRIDGE_HANGS_UP),
        ],
    );
    let carrier = SippUas::start(&bed, "options", &answered, 1, &["-t", "t1"]);
    // A YAML trunk (over TCP, with its own header) in a bridge of the test's own.
    let yaml = format!(
        "outbound_trunks:\n  - id: carrier-tcp\n    address: {}\n    transport: tcp\n    \
         numbers: [\"+15550199\", \"+15550198\"]\n    headers: {{ X-Trunk: \"yes\" }}\n    \
         headers_to_attributes: {{ X-Carrier-Ref: carrier.ref }}\n",
        carrier.addr()
    );
    let bridge = OwnBridge::start(&bed, "options", &yaml);
    let own = &bridge.bed;
    let mut member = RoomMember::join(own, "out-options", "agent", &["--commands"]);
    member.expect("joined", WAIT);
    let request = json!({
        "sip_trunk_id": "carrier-tcp",
        "sip_number": "+15550198",
        "sip_call_to": "+15557654321",
        "room_name": "out-options",
        "participant_identity": "callee-options",
        "participant_name": "Callee of the options test",
        "participant_metadata": "{\"crm\":42}",
        "participant_attributes": { "team": "sales" },
        "headers": { "X-Campaign": "spring" },
        "include_headers": "SIP_X_HEADERS",
        "display_name": "Acme \"Support\"",
        "hide_phone_number": true,
        "max_call_duration_s": 2,
        "wait_until_answered": true,
    });
    let reply = create_sip_participant(own, Sdk::Python, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "{reply:?}");
    let active = member.expect_where("attributes", WAIT, |e| {
        e["from"] == "callee-options" && e["attributes"]["sip.callStatus"] == "active"
    });
    assert_eq!(active["name"], "Callee of the options test", "{active}");
    assert_eq!(active["metadata"], "{\"crm\":42}", "{active}");
    let attributes = &active["attributes"];
    assert_eq!(attributes["sip.h.x-carrier-ref"], "abc123", "{active}");
    assert_eq!(attributes["carrier.ref"], "abc123", "{active}");
    assert_eq!(attributes["team"], "sales", "{active}");
    assert_eq!(attributes["sip.trunkID"], "carrier-tcp", "{active}");
    assert!(
        attributes.get("sip.phoneNumber").is_none(),
        "hidden: {active}"
    );
    assert!(
        attributes.get("sip.trunkPhoneNumber").is_none(),
        "hidden: {active}"
    );
    let left = member.expect_where("left", WAIT, |e| e["identity"] == "callee-options");
    println!("departure after max_call_duration: {left}");
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "CLIENT_INITIATED"
    );
    assert_eq!(left["attributes"]["sip.statusReason"], "Max duration");

    let run = carrier.finish(WAIT);
    assert!(run.passed, "{}", run.trace);
    let invite = run.received("INVITE")[0];
    assert!(invite.contains("SIP/2.0/TCP"), "{invite}");
    assert_eq!(
        header(invite, "From").map(|from| from.split(';').next().unwrap_or_default()),
        Some("\"Acme \\\"Support\\\"\" <sip:+15550198@127.0.0.1>"),
        "{invite}"
    );
    assert_eq!(header(invite, "X-Campaign"), Some("spring"), "{invite}");
    assert_eq!(header(invite, "X-Trunk"), Some("yes"), "{invite}");
    assert!(
        invite.starts_with("INVITE sip:+15557654321@127.0.0.1:"),
        "{invite}"
    );
}

#[test]
fn digest_challenges_are_answered_with_md5_and_sha256() {
    let Some(bed) = ready("digest_challenges_are_answered_with_md5_and_sha256") else {
        return;
    };
    // MD5 with qop=auth, verified by SIPp.
    let carrier_text = scenario(
        "uas_auth_ok",
        &[
            ("QOP_PARAM", QOP_AUTH),
            ("AUTH_USER", "bridge"),
            ("AUTH_PASSWORD", "md5-secret"),
            ("ANSWER_SDP", SDP_PCMA_PCMU),
        ],
    );
    let carrier = SippUas::start(&bed, "auth-md5", &carrier_text, 1, &[]);
    let request = json!({
        "trunk": { "hostname": carrier.addr(), "auth_username": "bridge", "auth_password": "md5-secret" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": "out-auth-md5",
        "participant_identity": "callee-md5",
        "wait_until_answered": true,
        "max_call_duration_s": 1,
    });
    let reply = create_sip_participant(&bed, Sdk::Node, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "{reply:?}");
    let run = carrier.finish(WAIT);
    assert!(run.passed, "SIPp verified the MD5 answer: {}", run.trace);
    // The retry is a new INVITE (CSeq 2); the dialog it formed goes on from there.
    let invites = run.received("INVITE");
    assert_eq!(
        header(invites[1], "CSeq"),
        Some("2 INVITE"),
        "{}",
        invites[1]
    );
    let bye = run.received("BYE")[0];
    assert_eq!(header(bye, "CSeq"), Some("3 BYE"), "{bye}");

    // SHA-256, verified by the bridge's own inbound side: it calls itself through a trunk
    // whose 407 offers SHA-256 only.
    let yaml = "
inbound_trunks:
  - id: sha-only
    numbers: [\"+15550170\"]
    auth: { username: looper, password: sha-secret }
    auth_algorithms: [SHA-256]
dispatch_rules:
  - id: loop
    trunk_ids: [sha-only]
    rule: { direct: { room: out-auth-loop-in } }
";
    let bridge = OwnBridge::start(&bed, "auth-sha", yaml);
    let own = &bridge.bed;
    let mut member = RoomMember::join(own, "out-auth-loop-in", "agent", &["--commands"]);
    member.expect("joined", WAIT);
    let request = json!({
        "trunk": { "hostname": own.sip_addr, "auth_username": "looper", "auth_password": "sha-secret" },
        "sip_number": "+15550199",
        "sip_call_to": "+15550170",
        "room_name": "out-auth-loop-out",
        "participant_identity": "callee-sha",
        "wait_until_answered": true,
        "max_call_duration_s": 1,
    });
    let reply = create_sip_participant(own, Sdk::Python, &request, API_LIMIT);
    assert!(reply.ok.is_some(), "{reply:?}");
    // The inbound leg of the same call joined the other room as the caller.
    let arrived = member.expect_where("attributes", WAIT, |e| {
        e["from"] == "sip_+15550199" && e["attributes"]["sip.trunkID"] == "sha-only"
    });
    println!("SHA-256 loop: inbound participant {arrived}");
}

#[test]
fn bad_api_requests_get_the_twirp_error_that_says_what_was_wrong() {
    let Some(bed) = ready("bad_api_requests_get_the_twirp_error_that_says_what_was_wrong") else {
        return;
    };
    let request = json!({
        "sip_trunk_id": "no-such-trunk",
        "sip_call_to": "+15557654321",
        "room_name": "out-bad",
    });
    for sdk in [Sdk::Node, Sdk::Python] {
        let reply = create_sip_participant(&bed, sdk, &request, API_LIMIT);
        let error = reply
            .error
            .clone()
            .unwrap_or_else(|| panic!("{sdk:?}: {reply:?}"));
        assert_eq!(
            (error.code.as_str(), error.status),
            ("not_found", 404),
            "{error:?}"
        );
        assert!(error.message.contains("no-such-trunk"), "{error:?}");
    }
    let no_room = json!({ "sip_trunk_id": "local-uas", "sip_call_to": "+15557654321" });
    let reply = create_sip_participant(&bed, Sdk::Python, &no_room, API_LIMIT);
    let error = reply.error.unwrap();
    assert_eq!(error.code, "invalid_argument", "{error:?}");
    assert!(error.message.contains("room_name is required"), "{error:?}");

    // Fields the bridge does not carry out are refused by name, never ignored.
    let unbuilt = [
        (Sdk::Node, json!({"krisp_enabled": true}), "krisp_enabled"),
        (Sdk::Python, json!({"krisp_enabled": true}), "krisp_enabled"),
        (
            Sdk::Python,
            json!({"media_encryption": "SIP_MEDIA_ENCRYPT_REQUIRE"}),
            "media_encryption",
        ),
    ];
    for (sdk, field, name) in unbuilt {
        let mut asking = json!({
            "sip_trunk_id": "local-uas", "sip_call_to": "+15557654321", "room_name": "out-bad"});
        asking
            .as_object_mut()
            .unwrap()
            .extend(field.as_object().unwrap().clone());
        let reply = create_sip_participant(&bed, sdk, &asking, API_LIMIT);
        let error = reply
            .error
            .clone()
            .unwrap_or_else(|| panic!("{sdk:?} {name}: {reply:?}"));
        assert_eq!(error.code, "invalid_argument", "{sdk:?} {name}: {error:?}");
        assert!(
            error.message.contains(&format!("{name}: not supported")),
            "{sdk:?} {name}: {error:?}"
        );
    }

    let wrong_secret = ApiCaller {
        api_secret: "not-the-secret".into(),
        ..ApiCaller::of(&bed)
    };
    let reply = wrong_secret.create_sip_participant(Sdk::Node, &request, &[], API_LIMIT);
    let error = reply.error.unwrap();
    assert_eq!(
        (error.code.as_str(), error.status),
        ("unauthenticated", 401),
        "{error:?}"
    );
}
