//! The bridge's room participant (bridge/src/room: livekit-signaling + str0m) against the real
//! livekit-server of the bed, with the official Python SDK as the other room member.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use sipbridge::room::{
    self, Delivery, Departure, DisconnectReason, Identity, JoinRequest, Payload, RoomEnd,
    RoomEvent, RoomHandle, RoomSettings,
};
use sipbridge_media::analysis as audio;
use sipbridge_media::opus::{EncoderSettings, OpusDecoder, OpusEncoder};
use sipbridge_media::tone::Sine;
use sipbridge_tests::observe::reason_server_shows;
use sipbridge_tests::{Bed, OwnLiveKit, RoomMember, TcpProxy};
use tokio::sync::mpsc::Receiver;

const DTMF_DIGITS: &str = "0123456789*#ABCD";

fn settings(bed: &Bed) -> RoomSettings {
    RoomSettings {
        url: bed.livekit_url.clone(),
        api_key: bed.api_key.clone(),
        api_secret: bed.api_secret.clone(),
    }
}

fn request(room: &str, identity: &str) -> JoinRequest {
    JoinRequest {
        room: room.to_owned(),
        who: Identity {
            identity: identity.to_owned(),
            name: "Rust participant".into(),
            ..Default::default()
        },
    }
}

/// A unique room per test run, so reruns against the same bed never meet old members.
fn room_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// Waits for the first event `pick` accepts, skipping others; panics after `timeout`, or if
/// the participant ends first (`pick` never sees [`RoomEvent::Ended`]; use [`end_of`]).
async fn next<T>(
    events: &mut Receiver<RoomEvent>,
    timeout: Duration,
    what: &str,
    mut pick: impl FnMut(RoomEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(RoomEvent::Ended(end))) => {
                panic!("participant ended while waiting for {what}: {end:?}")
            }
            Ok(Some(event)) => {
                if let Some(found) = pick(event) {
                    return found;
                }
            }
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("no {what} within {timeout:?}"),
        }
    }
}

/// How the participant ended, skipping other events; panics after `timeout`.
async fn end_of(events: &mut Receiver<RoomEvent>, timeout: Duration) -> RoomEnd {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(RoomEvent::Ended(end))) => return end,
            Ok(Some(_)) => {}
            Ok(None) => panic!("event channel closed without an end event"),
            Err(_) => panic!("the participant did not end within {timeout:?}"),
        }
    }
}

/// Leaves as a plain local hang-up, for tests whose subject is not the leaving.
async fn hang_up(handle: RoomHandle) {
    handle
        .leave(Departure {
            reason: DisconnectReason::ClientInitiated,
            status_code: 200,
            status_reason: "Local hangup".into(),
        })
        .await;
}

/// Runs a stdin command on the member (off the async runtime: it waits on the child process).
async fn command(mut member: RoomMember, command: serde_json::Value) -> RoomMember {
    blocking(move || {
        member.command(command);
        member
    })
    .await
}

/// Feeds our track a continuous tone, 20 ms at a time, as the call actor will.
fn spawn_tone(handle: &RoomHandle, hz: f64) -> tokio::task::JoinHandle<()> {
    let sender = handle.audio_sender();
    tokio::spawn(async move {
        let mut encoder = OpusEncoder::new(16_000, EncoderSettings::default()).unwrap();
        let mut sine = Sine::new(hz, 16_000, 9_000);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            if sender.is_closed() {
                return;
            }
            sender.send(encoder.encode(&sine.frame()).unwrap().to_vec());
        }
    })
}

async fn join_published(
    bed: &Bed,
    room: &str,
    identity: &str,
) -> (RoomHandle, Receiver<RoomEvent>, Duration) {
    let (handle, mut events) = room::join(&settings(bed), request(room, identity))
        .await
        .unwrap();
    let after = next(
        &mut events,
        Duration::from_secs(15),
        "Published",
        |e| match e {
            RoomEvent::Published { after, .. } => Some(after),
            _ => None,
        },
    )
    .await;
    (handle, events, after)
}

async fn wait_for_member(events: &mut Receiver<RoomEvent>, identity: &str) {
    next(
        events,
        Duration::from_secs(15),
        "the member to join",
        |e| match e {
            RoomEvent::ParticipantJoined(p) if p.identity == identity => Some(()),
            _ => None,
        },
    )
    .await
}

/// Runs blocking member calls (they wait on a child process) off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_publishes_a_1khz_tone_that_python_hears() {
    let Some(bed) = Bed::get("rust_publishes_a_1khz_tone_that_python_hears") else {
        return;
    };
    let room = room_name("tone-out");
    let (handle, mut events, published_after) = join_published(&bed, &room, "rust-tone").await;
    let tone = spawn_tone(&handle, 1000.0);
    let audio_sent_after = next(
        &mut events,
        Duration::from_secs(5),
        "AudioSent",
        |e| match e {
            RoomEvent::AudioSent { after } => Some(after),
            _ => None,
        },
    )
    .await;
    let started = Instant::now();
    let (bed2, room2) = (bed.clone(), room.clone());
    let (heard_join_ms, heard) = blocking(move || {
        let mut member = RoomMember::join(
            &bed2,
            &room2,
            "py-listener",
            &["--detect-tone", "--timeout", "15"],
        );
        let joined = member.expect("joined", Duration::from_secs(25));
        let heard = member.expect("tone", Duration::from_secs(25));
        (joined["join_ms"].as_f64().unwrap(), heard)
    })
    .await;
    let hz = heard["hz"].as_f64().unwrap();
    // The member's times count from its script's start; it joined (`joined`) before it
    // could hear anything.
    let member_joined_to_audio = heard["first_audio_ms"].as_f64().unwrap() - heard_join_ms;
    println!(
        "rust→python tone: {hz} Hz (sent 1000 Hz); rust join→published {published_after:?}, \
         →first RTP sent {audio_sent_after:?}; python joined→first audio heard \
         {member_joined_to_audio:.1} ms; test wall {:?}",
        started.elapsed()
    );
    assert!((hz - 1000.0).abs() <= 10.0, "python heard {hz} Hz");
    tone.abort();
    hang_up(handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_publishes_440hz_that_rust_decodes() {
    let Some(bed) = Bed::get("python_publishes_440hz_that_rust_decodes") else {
        return;
    };
    let room = room_name("tone-in");
    let (handle, mut events, _) = join_published(&bed, &room, "rust-ear").await;
    let (bed2, room2) = (bed.clone(), room.clone());
    let member = blocking(move || {
        RoomMember::join(
            &bed2,
            &room2,
            "py-tone",
            &["--publish-tone", "440", "--stay", "30"],
        )
    })
    .await;

    let track = next(
        &mut events,
        Duration::from_secs(15),
        "a remote audio track",
        |e| match e {
            RoomEvent::TrackAdded {
                identity,
                track_sid,
                ..
            } if identity == "py-tone" => Some(track_sid),
            _ => None,
        },
    )
    .await;
    let mut decoder = OpusDecoder::new(48_000).unwrap();
    let mut pcm: Vec<i16> = Vec::new();
    let added = Instant::now();
    let mut first_audible = None;
    while pcm.len() < 48_000 {
        let packet = next(&mut events, Duration::from_secs(10), "audio", |e| match e {
            RoomEvent::Audio(a) if a.track_sid == track => Some(a),
            _ => None,
        })
        .await;
        assert_eq!(packet.identity, "py-tone");
        let frame = decoder.decode(&packet.opus).unwrap();
        if first_audible.is_none() {
            if audio::rms(frame) < 100.0 {
                continue;
            }
            first_audible = Some(added.elapsed());
        }
        pcm.extend_from_slice(frame);
    }
    let hz = audio::tone_frequency(&pcm, 48_000).unwrap();
    let purity = audio::tone_purity(&pcm, 48_000, 440.0);
    println!(
        "python→rust tone: {hz:.2} Hz (sent 440 Hz), purity {purity:.3}; track added→audible {first_audible:?}"
    );
    assert!((hz - 440.0).abs() <= 10.0, "rust decoded {hz} Hz");
    assert!(
        purity > 0.8,
        "the decoded audio is not a clean tone (purity {purity})"
    );
    drop(member);
    hang_up(handle).await;
}

/// Joins a Rust participant and a commandable Python member and makes sure each sees the
/// other fully connected: the member's attribute change reaching Rust proves its path to
/// us, our attribute change reaching it proves ours.
async fn rust_and_commandable_member(
    bed: &Bed,
    room: &str,
    rust: &str,
    py: &str,
) -> (RoomHandle, Receiver<RoomEvent>, RoomMember) {
    let (handle, mut events, _) = join_published(bed, room, rust).await;
    let (bed2, room2, py2) = (bed.clone(), room.to_owned(), py.to_owned());
    let member = blocking(move || {
        let mut m = RoomMember::join(&bed2, &room2, &py2, &["--commands"]);
        m.expect("joined", Duration::from_secs(15));
        m
    })
    .await;
    wait_for_member(&mut events, py).await;
    (handle, events, member)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_travel_both_ways() {
    let Some(bed) = Bed::get("attributes_travel_both_ways") else {
        return;
    };
    let room = room_name("attributes");
    let (handle, mut events, mut member) =
        rust_and_commandable_member(&bed, &room, "rust-attr", "py-attr").await;

    handle
        .set_attributes(HashMap::from([
            ("sip.callStatus".into(), "active".into()),
            ("test.from".into(), "rust".into()),
        ]))
        .await
        .unwrap();
    let seen = blocking(move || {
        let e = member.expect_where("attributes", Duration::from_secs(10), |e| {
            e["from"] == "rust-attr" && e["attributes"]["test.from"] == "rust"
        });
        (member, e)
    })
    .await;
    let member = seen.0;
    assert_eq!(seen.1["attributes"]["sip.callStatus"], "active");

    let member = command(
        member,
        json!({"cmd": "attributes", "set": {"test.from": "python", "py.only": "1"}}),
    )
    .await;
    let attributes = next(
        &mut events,
        Duration::from_secs(10),
        "python's attributes",
        |e| match e {
            RoomEvent::ParticipantUpdated(p)
                if p.identity == "py-attr"
                    && p.attributes.get("test.from").is_some_and(|v| v == "python") =>
            {
                Some(p.attributes)
            }
            _ => None,
        },
    )
    .await;
    assert_eq!(attributes.get("py.only").map(String::as_str), Some("1"));
    println!("attributes: rust→python and python→rust both seen");
    drop(member);
    hang_up(handle).await;
}

/// Our data channels open with the publisher connection; the member's readiness is shown
/// by an attribute round trip before any data is sent.
async fn member_ready(member: RoomMember, events: &mut Receiver<RoomEvent>) -> RoomMember {
    let member = command(member, json!({"cmd": "attributes", "set": {"ready": "1"}})).await;
    next(
        events,
        Duration::from_secs(10),
        "member ready",
        |e| match e {
            RoomEvent::ParticipantUpdated(p) if p.attributes.contains_key("ready") => Some(()),
            _ => None,
        },
    )
    .await;
    member
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_travels_both_ways_in_order() {
    let Some(bed) = Bed::get("dtmf_travels_both_ways_in_order") else {
        return;
    };
    let room = room_name("dtmf");
    let (handle, mut events, member) =
        rust_and_commandable_member(&bed, &room, "rust-dtmf", "py-dtmf").await;
    let mut member = member_ready(member, &mut events).await;

    // Rust → Python.
    for (code, digit) in DTMF_DIGITS.chars().enumerate() {
        handle
            .send_data(
                Payload::Dtmf {
                    code: code as u32,
                    digit: digit.to_string(),
                },
                Delivery::Reliable,
                vec![],
            )
            .await
            .unwrap();
    }
    let received = blocking(move || {
        let digits: String = (0..DTMF_DIGITS.len())
            .map(|_| {
                let e = member.expect("dtmf", Duration::from_secs(10));
                assert_eq!(e["from"], "rust-dtmf");
                let digit = e["digit"].as_str().unwrap().to_owned();
                assert_eq!(
                    e["code"].as_u64().unwrap() as usize,
                    DTMF_DIGITS.find(&digit).unwrap(),
                    "code of {digit}"
                );
                digit
            })
            .collect();
        (member, digits)
    })
    .await;
    let member = received.0;
    assert_eq!(received.1, DTMF_DIGITS, "digits python received from rust");

    // Python → Rust.
    let member = command(member, json!({"cmd": "dtmf", "digits": DTMF_DIGITS})).await;
    let mut digits = String::new();
    while digits.len() < DTMF_DIGITS.len() {
        let (code, digit) = next(
            &mut events,
            Duration::from_secs(10),
            "a DTMF digit",
            |e| match e {
                RoomEvent::Data(d) if d.from_identity == "py-dtmf" => match d.payload {
                    Payload::Dtmf { code, digit } => Some((code, digit)),
                    _ => None,
                },
                _ => None,
            },
        )
        .await;
        assert_eq!(code as usize, DTMF_DIGITS.find(&digit).unwrap());
        digits.push_str(&digit);
    }
    assert_eq!(digits, DTMF_DIGITS, "digits rust received from python");
    println!("dtmf: 16/16 digits each way, in order");
    drop(member);
    hang_up(handle).await;
}

/// User packets with a topic, on the reliable and the lossy channel, each way. A lossy packet
/// may be lost on a real network; on the loopback bed none is, so each is expected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_packets_with_a_topic_travel_both_ways_on_both_channels() {
    let Some(bed) = Bed::get("user_packets_with_a_topic_travel_both_ways_on_both_channels") else {
        return;
    };
    let room = room_name("data");
    let (handle, mut events, member) =
        rust_and_commandable_member(&bed, &room, "rust-data", "py-data").await;
    let mut member = member_ready(member, &mut events).await;

    for (delivery, reliable) in [(Delivery::Reliable, true), (Delivery::Lossy, false)] {
        let topic = format!("to-python-{reliable}");
        let payload = Payload::User {
            topic: Some(topic.clone()),
            payload: b"hello from rust".to_vec(),
        };
        handle.send_data(payload, delivery, vec![]).await.unwrap();
        member = blocking(move || {
            let e = member.expect_where("data", Duration::from_secs(10), |e| e["topic"] == topic);
            assert_eq!(e["from"], "rust-data", "{e}");
            assert_eq!(e["text"], "hello from rust", "{e}");
            assert_eq!(e["reliable"], reliable, "{e}");
            member
        })
        .await;

        let topic = format!("to-rust-{reliable}");
        let request = json!({"cmd": "data", "text": "hello from python", "topic": topic, "reliable": reliable});
        member = command(member, request).await;
        let received = next(
            &mut events,
            Duration::from_secs(10),
            "a user packet",
            |e| match e {
                RoomEvent::Data(d) if d.from_identity == "py-data" => Some(d),
                _ => None,
            },
        )
        .await;
        assert_eq!(received.delivery, delivery);
        assert_eq!(
            received.payload,
            Payload::User {
                topic: Some(topic),
                payload: b"hello from python".to_vec(),
            }
        );
    }
    println!("user data: reliable and lossy, with topics, both ways");
    drop(member);
    hang_up(handle).await;
}

/// Another participant joining with our identity takes our place: the server removes us
/// with DUPLICATE_IDENTITY, and we report it so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_identity_is_reported_with_the_servers_reason() {
    let Some(bed) = Bed::get("a_duplicate_identity_is_reported_with_the_servers_reason") else {
        return;
    };
    let room = room_name("duplicate");
    let (_handle, mut events, _) = join_published(&bed, &room, "rust-twin").await;
    let (bed2, room2) = (bed.clone(), room.clone());
    let _twin = blocking(move || {
        let mut twin = RoomMember::join(&bed2, &room2, "rust-twin", &["--commands"]);
        twin.expect("joined", Duration::from_secs(15));
        twin
    })
    .await;
    let end = end_of(&mut events, Duration::from_secs(10)).await;
    assert_eq!(
        end,
        RoomEnd::Removed {
            reason: DisconnectReason::DuplicateIdentity
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_leave_reason_reaches_the_room() {
    let Some(bed) = Bed::get("every_leave_reason_reaches_the_room") else {
        return;
    };
    let cases = [
        (DisconnectReason::UserRejected, 603, "Decline"),
        (
            DisconnectReason::UserUnavailable,
            480,
            "Temporarily Unavailable",
        ),
        (DisconnectReason::SipTrunkFailure, 404, "Not Found"),
        (DisconnectReason::ConnectionTimeout, 408, "No response"),
        (DisconnectReason::MediaFailure, 488, "No common codec"),
        (DisconnectReason::ClientInitiated, 200, "Remote hangup"),
    ];
    let mut table = vec![format!(
        "{:<20} {:<20} {:<22} {}",
        "sent", "seen reason", "seen sip.disconnectReason", "status"
    )];
    let mut failures = Vec::new();
    for (reason, code, phrase) in cases {
        let room = room_name("leave");
        let (handle, _events, member) =
            rust_and_commandable_member(&bed, &room, "rust-leaver", "py-witness").await;
        let departure = Departure {
            reason,
            status_code: code,
            status_reason: phrase.into(),
        };
        let end = handle.leave(departure.clone()).await;
        assert_eq!(end, RoomEnd::Left(departure), "how our participant ended");
        let (_member, left) = blocking(move || {
            let mut member = member;
            let e = member.expect_where("left", Duration::from_secs(10), |e| {
                e["identity"] == "rust-leaver"
            });
            (member, e)
        })
        .await;
        let seen_reason = left["reason"].as_str().unwrap_or("none").to_owned();
        let attrs = &left["attributes"];
        table.push(format!(
            "{:<20} {:<20} {:<22} {} {}",
            reason.as_str_name(),
            seen_reason,
            attrs["sip.disconnectReason"].as_str().unwrap_or("-"),
            attrs["sip.statusCode"].as_str().unwrap_or("-"),
            attrs["sip.statusReason"].as_str().unwrap_or("-"),
        ));
        if attrs["sip.callStatus"] != "hangup"
            || attrs["sip.disconnectReason"] != reason.as_str_name()
            || attrs["sip.statusCode"] != code.to_string().as_str()
            || attrs["sip.statusReason"] != phrase
        {
            failures.push(format!(
                "{}: departure attributes seen as {attrs}",
                reason.as_str_name()
            ));
        }
        let expected = reason_server_shows(&bed.livekit_server_version(), reason.as_str_name());
        if seen_reason != expected {
            failures.push(format!(
                "{}: server showed {seen_reason}, expected {expected}",
                reason.as_str_name(),
            ));
        }
    }
    println!(
        "leave reasons (livekit-server of the bed):\n{}",
        table.join("\n")
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_and_room_deletion_are_reported_with_the_servers_reason() {
    let Some(bed) = Bed::get("removal_and_room_deletion_are_reported_with_the_servers_reason")
    else {
        return;
    };
    for (request, expected) in [
        (
            json!({"cmd": "remove", "identity": "rust-removed"}),
            DisconnectReason::ParticipantRemoved,
        ),
        (json!({"cmd": "delete_room"}), DisconnectReason::RoomDeleted),
    ] {
        let room = room_name("removed");
        let (_handle, mut events, member) =
            rust_and_commandable_member(&bed, &room, "rust-removed", "py-admin").await;
        let sent = Instant::now();
        let _member = command(member, request).await;
        let end = end_of(&mut events, Duration::from_secs(10)).await;
        println!(
            "{}: reported {end:?} after {:?}",
            expected.as_str_name(),
            sent.elapsed()
        );
        assert_eq!(end, RoomEnd::Removed { reason: expected });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_reported_within_10_seconds() {
    let Some(bed) = Bed::get("a_killed_server_is_reported_within_10_seconds") else {
        return;
    };
    // A server of our own: killing the bed's would break the tests running beside this one.
    let mut server = OwnLiveKit::start(&bed, "killed-livekit", 7890, 7892);
    let own = Bed {
        livekit_url: server.url.clone(),
        ..bed.clone()
    };
    let (handle, mut events, _) = join_published(&own, &room_name("killed"), "rust-orphan").await;
    let tone = spawn_tone(&handle, 1000.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = Instant::now();
    server.kill();
    let end = end_of(&mut events, Duration::from_secs(10)).await;
    println!(
        "server killed: reported {end:?} after {:?}",
        killed.elapsed()
    );
    assert!(matches!(end, RoomEnd::Lost(_)), "{end:?}");
    tone.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_signal_connection_is_resumed() {
    let Some(bed) = Bed::get("a_dropped_signal_connection_is_resumed") else {
        return;
    };
    let upstream = bed.livekit_url.trim_start_matches("ws://").parse().unwrap();
    let proxy = TcpProxy::start(upstream).await;
    let via_proxy = Bed {
        livekit_url: format!("ws://{}", proxy.addr),
        ..bed.clone()
    };
    let room = room_name("resume");
    let (handle, mut events, _) = join_published(&via_proxy, &room, "rust-resumer").await;
    let (bed2, room2) = (bed.clone(), room.clone());
    let mut member = blocking(move || {
        let mut m = RoomMember::join(&bed2, &room2, "py-resume-witness", &["--commands"]);
        m.expect("joined", Duration::from_secs(15));
        m
    })
    .await;
    wait_for_member(&mut events, "py-resume-witness").await;

    let connections_before = proxy.accepted();
    proxy.cut();
    let cut = Instant::now();
    while proxy.accepted() == connections_before {
        assert!(
            cut.elapsed() < Duration::from_secs(10),
            "no new signal connection within 10 s of the cut"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reconnected = cut.elapsed();
    // Attributes set now can only travel over the resumed connection; the other member must
    // see them, and the participant must not have ended.
    let attrs = HashMap::from([("test.resumed".to_string(), "yes".to_string())]);
    tokio::time::timeout(Duration::from_secs(5), handle.set_attributes(attrs))
        .await
        .unwrap()
        .unwrap();
    println!(
        "signal connection cut: reconnected after {reconnected:?}, attributes accepted after {:?}",
        cut.elapsed()
    );
    member = blocking(move || {
        member.expect_where("attributes", Duration::from_secs(10), |e| {
            e["from"] == "rust-resumer" && e["attributes"]["test.resumed"] == "yes"
        });
        member
    })
    .await;
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, RoomEvent::Ended(_)),
            "the participant ended: {event:?}"
        );
    }
    drop(member);
    hang_up(handle).await;
}
