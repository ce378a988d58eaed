//! The API clients of the end-to-end tests (`sipbridge_tests::api`: the official Node and
//! Python SDKs behind `tests/node/*_sip_participant.mjs` and `tests/py/*_sip_participant.py`,
//! for CreateSIPParticipant and TransferSIPParticipant) checked without the bridge, against a
//! fake Twirp server in this process: what each SDK sends, and how its answers — the
//! participant or the transfer's outcome, a SIP failure, another Twirp error, no answer — come
//! back as an `ApiReply`. These are also the
//! facts the bridge's API must live with (printed as the tests go). Needs Node with
//! `tests/node_modules` and the venv of `tests/bed/setup`; skipped with a printed reason
//! without them, failed with `CI=true`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sipbridge_tests::Bed;
use sipbridge_tests::api::{ApiCaller, Sdk, sdk_python};

const LIMIT: Duration = Duration::from_secs(30);

/// How the fake server answers every request.
#[derive(Clone, Debug)]
enum Answer {
    /// The participant, as protobuf or JSON, whichever the request was.
    Participant,
    /// A successful transfer's `TransferSIPParticipantResponse`, the same way.
    Transferred,
    /// A Twirp error: HTTP status, Content-Type, and the JSON body.
    Error(u16, &'static str, Value),
    /// Nothing: the server waits for the client to close the connection.
    Hold,
}

/// One request the fake server got.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    content_type: String,
    authorization: String,
    body: Vec<u8>,
    /// With [`Answer::Hold`]: how long after the request the client closed the connection.
    closed_after: Option<Duration>,
}

/// A Twirp server on 127.0.0.1 that records requests and answers them all the same way.
struct FakeTwirp {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeTwirp {
    fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (seen, answer) = (seen.clone(), answer.clone());
                            std::thread::spawn(move || serve(stream, &answer, &seen));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        Self {
            url,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeTwirp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one HTTP/1.1 request and answers it.
fn serve(stream: TcpStream, answer: &Answer, seen: &Mutex<Vec<Seen>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (mut length, mut content_type, mut authorization) = (0, String::new(), String::new());
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        let value = value.trim().to_owned();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap(),
            "content-type" => content_type = value,
            "authorization" => authorization = value,
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let started = Instant::now();
    let mut record = Seen {
        path,
        content_type,
        authorization,
        body,
        closed_after: None,
    };
    let protobuf = record.content_type.starts_with("application/protobuf");
    let (status, content_type, payload) = match answer {
        Answer::Participant if protobuf => (200, "application/protobuf", participant_protobuf()),
        Answer::Participant => (
            200,
            "application/json",
            json!({"participantId": "PA_fake", "participantIdentity": "callee",
                   "roomName": "fake-room", "sipCallId": "SCL_fake"})
            .to_string()
            .into_bytes(),
        ),
        Answer::Transferred if protobuf => (200, "application/protobuf", transferred_protobuf()),
        Answer::Transferred => (
            200,
            "application/json",
            json!({"transferId": "TR_fake", "status": "STS_TRANSFER_SUCCESSFUL",
                   "reason": "STR_COMPLETED", "sipStatus": {"code": "SIP_STATUS_OK", "status": "OK"}})
            .to_string()
            .into_bytes(),
        ),
        Answer::Error(status, content_type, body) => {
            (*status, *content_type, body.to_string().into_bytes())
        }
        Answer::Hold => {
            // Whatever the client does next ends the wait: it closes (0 bytes) or resets.
            let mut byte = [0u8; 1];
            let _ = reader.read(&mut byte);
            record.closed_after = Some(started.elapsed());
            seen.lock().unwrap().push(record);
            return;
        }
    };
    seen.lock().unwrap().push(record);
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&payload);
}

/// `livekit.SIPParticipantInfo{participant_id: "PA_fake", participant_identity: "callee",
/// room_name: "fake-room", sip_call_id: "SCL_fake"}` in protobuf: fields 1-4, strings.
fn participant_protobuf() -> Vec<u8> {
    let mut out = Vec::new();
    for (field, text) in [
        (1u8, "PA_fake"),
        (2, "callee"),
        (3, "fake-room"),
        (4, "SCL_fake"),
    ] {
        out.push(field << 3 | 2);
        out.push(u8::try_from(text.len()).unwrap());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// `livekit.TransferSIPParticipantResponse{transfer_id: "TR_fake", status:
/// STS_TRANSFER_SUCCESSFUL (2), reason: STR_COMPLETED (1), sip_status: {code: 200, status:
/// "OK"}}` in protobuf.
fn transferred_protobuf() -> Vec<u8> {
    // SIPStatus{code (field 1, varint 200 = c8 01), status (field 2, "OK")}
    let sip_status = [0x08, 0xc8, 0x01, 0x12, 2, b'O', b'K'];
    let mut out = vec![1 << 3 | 2, 7];
    out.extend_from_slice(b"TR_fake");
    out.extend_from_slice(&[2 << 3, 2, 3 << 3, 1, 4 << 3 | 2, 7]);
    out.extend_from_slice(&sip_status);
    out
}

/// A caller for `server`, or `None` after printing why the test is skipped (panics with
/// `CI=true`).
fn caller(test: &str, server: &FakeTwirp) -> Option<ApiCaller> {
    let node_sdk = Bed::tests_file("node_modules/livekit-server-sdk/package.json");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok();
    let missing = if !node || !node_sdk.exists() {
        Some("Node or tests/node_modules is missing")
    } else if sdk_python().is_none() {
        Some("the Python venv is missing")
    } else {
        None
    };
    if let Some(missing) = missing {
        let reason = format!("{missing} (tests/bed/setup installs them)");
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("{test}: {reason}");
        }
        eprintln!("SKIPPED {test}: {reason}");
        return None;
    }
    Some(ApiCaller {
        api_url: server.url.clone(),
        api_key: "devkey".into(),
        api_secret: "secret".into(),
        python: sdk_python().unwrap(),
    })
}

const BOTH: [Sdk; 2] = [Sdk::Node, Sdk::Python];

fn full_request() -> Value {
    json!({
        "sip_trunk_id": "ST_fake",
        "trunk": {"hostname": "127.0.0.1:5090", "transport": "udp",
                  "auth_username": "user", "auth_password": "pw"},
        "sip_call_to": "+15550123",
        "sip_number": "+15550199",
        "room_name": "fake-room",
        "participant_identity": "callee",
        "participant_name": "Callee",
        "participant_metadata": "{\"m\":1}",
        "participant_attributes": {"team": "bed"},
        "headers": {"X-Bed": "yes"},
        "include_headers": "SIP_X_HEADERS",
        "dtmf": "12w3",
        "play_dialtone": true,
        "hide_phone_number": true,
        "display_name": "Bed Caller",
        "ringing_timeout_s": 7,
        "max_call_duration_s": 60,
        "wait_until_answered": true,
    })
}

#[test]
fn both_sdks_send_the_request_and_return_the_participant() {
    let test = "both_sdks_send_the_request_and_return_the_participant";
    let server = FakeTwirp::start(Answer::Participant);
    let Some(caller) = caller(test, &server) else {
        return;
    };
    for sdk in BOTH {
        let reply = caller.create_sip_participant(sdk, &full_request(), &[], LIMIT);
        assert!(reply.error.is_none(), "{sdk:?}: {reply:?}");
        assert_eq!(
            reply.ok.unwrap(),
            json!({"participant_id": "PA_fake", "participant_identity": "callee",
                   "room_name": "fake-room", "sip_call_id": "SCL_fake"}),
            "{sdk:?}"
        );
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.path, "/twirp/livekit.SIP/CreateSIPParticipant");
        assert!(request.authorization.starts_with("Bearer "));
    }
    // Node: proto3 JSON, lowerCamelCase names, durations as strings, enums by name.
    assert_eq!(seen[0].content_type, "application/json;charset=UTF-8");
    let node: Value = serde_json::from_slice(&seen[0].body).unwrap();
    println!("Node SDK sent {node}");
    assert_eq!(
        node,
        json!({
            "sipTrunkId": "ST_fake", "sipCallTo": "+15550123", "sipNumber": "+15550199",
            "roomName": "fake-room", "participantIdentity": "callee",
            "participantName": "Callee", "participantMetadata": "{\"m\":1}",
            "participantAttributes": {"team": "bed"}, "headers": {"X-Bed": "yes"},
            "includeHeaders": "SIP_X_HEADERS", "dtmf": "12w3", "playDialtone": true,
            "hidePhoneNumber": true, "displayName": "Bed Caller", "ringingTimeout": "7s",
            "maxCallDuration": "60s", "waitUntilAnswered": true,
            "trunk": {"hostname": "127.0.0.1:5090", "transport": "SIP_TRANSPORT_UDP",
                      "authUsername": "user", "authPassword": "pw"},
        })
    );
    // Python: binary protobuf, of the same request (decoded by the SDK's own protobuf).
    assert_eq!(seen[1].content_type, "application/protobuf");
    let python = protobuf_as_json(&caller, &seen[1].body);
    println!(
        "Python SDK sent {} bytes of protobuf: {python}",
        seen[1].body.len()
    );
    assert_eq!(python, node);
}

/// A CreateSIPParticipantRequest in protobuf, as its proto3 JSON.
fn protobuf_as_json(caller: &ApiCaller, body: &[u8]) -> Value {
    message_as_json(caller, "CreateSIPParticipantRequest", body)
}

/// The `livekit.protocol.sip` message `message` in protobuf, as its proto3 JSON (decoded by
/// the Python SDK's own protobuf).
fn message_as_json(caller: &ApiCaller, message: &str, body: &[u8]) -> Value {
    let program = format!(
        "import sys\n\
         from google.protobuf.json_format import MessageToJson\n\
         from livekit.protocol.sip import {message} as R\n\
         print(MessageToJson(R.FromString(sys.stdin.buffer.read())))"
    );
    let mut child = std::process::Command::new(&caller.python)
        .args(["-c", &program])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_sip_failure_is_a_sip_call_error_with_its_status_in_both_sdks() {
    let test = "a_sip_failure_is_a_sip_call_error_with_its_status_in_both_sdks";
    let meta = json!({"sip_status_code": "486", "sip_status": "Busy Here"});
    let server = FakeTwirp::start(Answer::Error(
        412,
        "application/json",
        json!({"code": "failed_precondition", "msg": "callee is busy", "meta": meta}),
    ));
    let Some(caller) = caller(test, &server) else {
        return;
    };
    for sdk in BOTH {
        let request = json!({"sip_trunk_id": "ST_fake", "sip_call_to": "+15550123",
                             "room_name": "r"});
        let reply = caller.create_sip_participant(sdk, &request, &[], LIMIT);
        let failure = reply.error.unwrap();
        println!("{sdk:?}: {failure:?}");
        assert_eq!(failure.class, "SipCallError");
        assert_eq!(failure.code, "failed_precondition");
        assert_eq!(failure.status, 412);
        assert_eq!(failure.sip_status_code, Some(486));
        assert_eq!(failure.sip_status, "Busy Here");
        assert_eq!(failure.meta, meta);
        let message = match sdk {
            Sdk::Node => "SIP call failed: 486 Busy Here (failed_precondition)",
            Sdk::Python => "callee is busy",
        };
        assert_eq!(failure.message, message);
    }
}

#[test]
fn a_twirp_error_without_sip_status_is_a_server_error_and_5xx_is_not_retried() {
    let test = "a_twirp_error_without_sip_status_is_a_server_error_and_5xx_is_not_retried";
    let server = FakeTwirp::start(Answer::Error(
        503,
        "application/json",
        json!({"code": "unavailable", "msg": "draining"}),
    ));
    let Some(caller) = caller(test, &server) else {
        return;
    };
    for sdk in BOTH {
        let reply = caller.create_sip_participant(sdk, &json!({"sip_trunk_id": "x"}), &[], LIMIT);
        let failure = reply.error.unwrap();
        assert_eq!(failure.class, "ServerError", "{sdk:?}: {failure:?}");
        assert_eq!(failure.code, "unavailable");
        assert_eq!(failure.status, 503);
        assert_eq!(failure.sip_status_code, None);
    }
    // Region failover only engages for LiveKit Cloud hosts: one request each.
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn node_reads_twirp_errors_only_with_content_type_exactly_application_json() {
    let test = "node_reads_twirp_errors_only_with_content_type_exactly_application_json";
    let server = FakeTwirp::start(Answer::Error(
        400,
        "application/json; charset=utf-8",
        json!({"code": "failed_precondition", "msg": "busy",
               "meta": {"sip_status_code": "486", "sip_status": "Busy Here"}}),
    ));
    let Some(caller) = caller(test, &server) else {
        return;
    };
    let request = json!({"sip_trunk_id": "x"});
    let node = caller
        .create_sip_participant(Sdk::Node, &request, &[], LIMIT)
        .error
        .unwrap();
    println!("Node with a charset parameter: {node:?}");
    assert_eq!(
        (node.class.as_str(), node.code.as_str()),
        ("ServerError", "")
    );
    assert_eq!(node.sip_status_code, None, "the meta is lost");
    let python = caller
        .create_sip_participant(Sdk::Python, &request, &[], LIMIT)
        .error
        .unwrap();
    assert_eq!(python.class, "SipCallError", "Python parses any error body");
    assert_eq!(python.sip_status_code, Some(486));
}

#[test]
fn the_sdks_time_out_on_their_own_and_python_can_give_up() {
    let test = "the_sdks_time_out_on_their_own_and_python_can_give_up";
    let server = FakeTwirp::start(Answer::Hold);
    let Some(caller) = caller(test, &server) else {
        return;
    };
    // With wait_until_answered, both SDKs wait for the ringing timeout plus 2 s.
    let request = json!({"sip_trunk_id": "x", "wait_until_answered": true,
                         "ringing_timeout_s": 1});
    for sdk in BOTH {
        let reply = caller.create_sip_participant(sdk, &request, &[], LIMIT);
        let failure = reply.error.as_ref().unwrap();
        println!("{sdk:?} gave up after {:?}: {failure:?}", reply.elapsed);
        assert_eq!(failure.class, "TimeoutError");
        assert!(reply.elapsed >= Duration::from_millis(2900), "{reply:?}");
        assert!(reply.elapsed < Duration::from_secs(6), "{reply:?}");
    }
    // request_timeout_s is the SDK's own timeout.
    let request = json!({"sip_trunk_id": "x", "request_timeout_s": 1});
    for sdk in BOTH {
        let reply = caller.create_sip_participant(sdk, &request, &[], LIMIT);
        assert_eq!(reply.error.unwrap().class, "TimeoutError");
        assert!(
            reply.elapsed < Duration::from_secs(3),
            "{:?}",
            reply.elapsed
        );
    }
    // Python, cancelled after 1 s: the server sees the connection close then.
    let reply = caller.create_sip_participant(
        Sdk::Python,
        &json!({"sip_trunk_id": "x", "wait_until_answered": true}),
        &["--cancel-after", "1"],
        LIMIT,
    );
    assert!(reply.cancelled, "{reply:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        if let Some(closed) = server.seen().last().and_then(|seen| seen.closed_after) {
            break closed;
        }
        assert!(Instant::now() < deadline, "{:?}", server.seen());
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("Python cancelled: the connection closed {closed:?} after the request");
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_secs(2),
        "{closed:?}"
    );
    assert_eq!(server.seen().len(), 5);
}

#[test]
fn what_each_sdk_adds_to_a_minimal_request() {
    let test = "what_each_sdk_adds_to_a_minimal_request";
    let server = FakeTwirp::start(Answer::Participant);
    let Some(caller) = caller(test, &server) else {
        return;
    };
    let request = json!({"sip_trunk_id": "ST_fake", "sip_call_to": "+15550123",
                         "room_name": "r", "wait_until_answered": true});
    for sdk in BOTH {
        let reply = caller.create_sip_participant(sdk, &request, &[], LIMIT);
        assert!(reply.ok.is_some(), "{reply:?}");
    }
    let seen = server.seen();
    let node: Value = serde_json::from_slice(&seen[0].body).unwrap();
    let python = protobuf_as_json(&caller, &seen[1].body);
    println!("minimal request: Node sent {node}, Python {python}");
    // Both pin the ringing timeout (30 s) that their own request timeout is derived from;
    // Node also names the participant when the caller did not.
    let expected = json!({"sipTrunkId": "ST_fake", "sipCallTo": "+15550123", "roomName": "r",
                          "waitUntilAnswered": true, "ringingTimeout": "30s"});
    let mut node_expected = expected.clone();
    node_expected["participantIdentity"] = json!("sip-participant");
    assert_eq!(node, node_expected);
    assert_eq!(python, expected);
}

/// The claims of the bearer token in `authorization` ("Bearer header.claims.signature"), as
/// JSON; the signature is not checked (the fake server has no use for it).
fn token_claims(authorization: &str) -> Value {
    let token = authorization.strip_prefix("Bearer ").unwrap();
    let claims = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64url(claims)).unwrap()
}

/// RFC 4648 §5 base64url without padding, as JWTs use it.
fn base64url(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0);
    for byte in text.bytes().filter(|&b| b != b'=') {
        let value = ALPHABET.iter().position(|&a| a == byte).unwrap();
        bits = bits << 6 | u32::try_from(value).unwrap();
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from(bits >> count & 0xff).unwrap());
        }
    }
    out
}

fn full_transfer_request() -> Value {
    json!({
        "room_name": "fake-room",
        "participant_identity": "callee",
        "transfer_to": "sip:+15550999@127.0.0.1",
        "play_dialtone": true,
        "headers": {"X-Test": "xfer"},
        "ringing_timeout_s": 7,
    })
}

#[test]
fn both_sdks_send_the_transfer_and_python_returns_its_outcome() {
    let test = "both_sdks_send_the_transfer_and_python_returns_its_outcome";
    let server = FakeTwirp::start(Answer::Transferred);
    let Some(caller) = caller(test, &server) else {
        return;
    };
    let minimal = json!({"room_name": "fake-room", "participant_identity": "callee",
                         "transfer_to": "tel:+15550999"});
    for request in [full_transfer_request(), minimal] {
        for sdk in BOTH {
            let reply = caller.transfer_sip_participant(sdk, &request, LIMIT);
            assert!(reply.error.is_none(), "{sdk:?}: {reply:?}");
            let ok = reply.ok.unwrap();
            println!("{sdk:?} returned {ok}");
            // Node's SDK resolves with nothing; Python's returns the response.
            let expected = match sdk {
                Sdk::Node => json!({}),
                Sdk::Python => json!({"transfer_id": "TR_fake",
                    "status": "STS_TRANSFER_SUCCESSFUL", "reason": "STR_COMPLETED",
                    "sip_status": {"code": 200, "status": "OK"}}),
            };
            assert_eq!(ok, expected, "{sdk:?}");
        }
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        assert_eq!(request.path, "/twirp/livekit.SIP/TransferSIPParticipant");
        // The grants TransferSIPParticipant needs: admin of the participant's room, SIP call.
        let claims = token_claims(&request.authorization);
        println!("token claims: {claims}");
        assert_eq!(claims["video"]["roomAdmin"], true, "{claims}");
        assert_eq!(claims["video"]["room"], "fake-room", "{claims}");
        assert_eq!(claims["sip"]["call"], true, "{claims}");
    }
    // Node sends proto3 JSON, Python protobuf: the same request.
    let decode = |i: usize| -> Value {
        if i.is_multiple_of(2) {
            assert_eq!(seen[i].content_type, "application/json;charset=UTF-8");
            serde_json::from_slice(&seen[i].body).unwrap()
        } else {
            assert_eq!(seen[i].content_type, "application/protobuf");
            message_as_json(&caller, "TransferSIPParticipantRequest", &seen[i].body)
        }
    };
    let full = json!({"roomName": "fake-room", "participantIdentity": "callee",
                      "transferTo": "sip:+15550999@127.0.0.1", "playDialtone": true,
                      "headers": {"X-Test": "xfer"}, "ringingTimeout": "7s"});
    assert_eq!(decode(0), full);
    assert_eq!(decode(1), full);
    // Both pin the ringing timeout (30 s) when the caller did not, and wait 2 s more.
    let minimal = json!({"roomName": "fake-room", "participantIdentity": "callee",
                         "transferTo": "tel:+15550999", "ringingTimeout": "30s"});
    println!(
        "minimal transfer: Node sent {}, Python {}",
        decode(2),
        decode(3)
    );
    assert_eq!(decode(2), minimal);
    assert_eq!(decode(3), minimal);
}

#[test]
fn a_failed_transfer_is_a_sip_call_error_with_its_status_and_reason() {
    let test = "a_failed_transfer_is_a_sip_call_error_with_its_status_and_reason";
    let meta = json!({"sip_status_code": "486", "sip_status": "Busy Here",
                      "sip_transfer_reason": "STR_REJECTED", "sip_transfer_id": "TR_fake"});
    let server = FakeTwirp::start(Answer::Error(
        412,
        "application/json",
        json!({"code": "failed_precondition", "msg": "transfer rejected", "meta": meta}),
    ));
    let Some(caller) = caller(test, &server) else {
        return;
    };
    for sdk in BOTH {
        let reply = caller.transfer_sip_participant(sdk, &full_transfer_request(), LIMIT);
        let failure = reply.error.unwrap();
        println!("{sdk:?}: {failure:?}");
        assert_eq!(failure.class, "SipCallError");
        assert_eq!(failure.code, "failed_precondition");
        assert_eq!(failure.status, 412);
        assert_eq!(failure.sip_status_code, Some(486));
        assert_eq!(failure.sip_status, "Busy Here");
        assert_eq!(failure.meta, meta);
        match sdk {
            // The other meta follow the status, as key=value.
            Sdk::Node => {
                let message = &failure.message;
                assert!(
                    message.starts_with("SIP call failed: 486 Busy Here (failed_precondition) [")
                        && message.contains("sip_transfer_reason=STR_REJECTED")
                        && message.contains("sip_transfer_id=TR_fake"),
                    "{message}"
                );
            }
            Sdk::Python => assert_eq!(failure.message, "transfer rejected"),
        }
    }

    // A transfer reason without a SIP status: only Python makes it a SipCallError.
    let meta = json!({"sip_transfer_reason": "STR_CANCELED"});
    let server = FakeTwirp::start(Answer::Error(
        409,
        "application/json",
        json!({"code": "aborted", "msg": "transfer cancelled", "meta": meta}),
    ));
    let caller = ApiCaller {
        api_url: server.url.clone(),
        ..caller
    };
    for (sdk, class) in [(Sdk::Node, "ServerError"), (Sdk::Python, "SipCallError")] {
        let reply = caller.transfer_sip_participant(sdk, &full_transfer_request(), LIMIT);
        let failure = reply.error.unwrap();
        println!("{sdk:?} without sip_status_code: {failure:?}");
        assert_eq!(failure.class, class, "{sdk:?}");
        assert_eq!(failure.sip_status_code, None);
        assert_eq!(failure.meta, meta);
    }
}

#[test]
fn the_transfer_scripts_refuse_an_unknown_field() {
    let test = "the_transfer_scripts_refuse_an_unknown_field";
    let server = FakeTwirp::start(Answer::Transferred);
    let Some(caller) = caller(test, &server) else {
        return;
    };
    let mut request = full_transfer_request();
    // Not a field of TransferSIPParticipantRequest.
    request["sip_call_id"] = json!("SCL_fake");
    for (program, script) in [
        ("node".into(), "node/transfer_sip_participant.mjs"),
        (caller.python.clone(), "py/transfer_sip_participant.py"),
    ] {
        let output = std::process::Command::new::<std::path::PathBuf>(program)
            .arg(Bed::tests_file(script))
            .arg(request.to_string())
            .current_dir(Bed::tests_file(""))
            .env("SIPBRIDGE_API_URL", &caller.api_url)
            .env("LIVEKIT_API_KEY", &caller.api_key)
            .env("LIVEKIT_API_SECRET", &caller.api_secret)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{script}: {stderr}");
        assert_eq!(output.status.code(), Some(2), "{script}: {stderr}");
        assert!(stderr.contains("sip_call_id"), "{script}: {stderr}");
    }
    assert!(server.seen().is_empty());
}
