//! The API through the real router, with an in-process fake behind [`SipService`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
use livekit_api::access_token::SIPGrants;
use livekit_api::access_token::{AccessToken, VideoGrants};
use livekit_protocol::{
    CreateSipParticipantRequest, SipParticipantInfo, TransferSipParticipantRequest,
    TransferSipParticipantResponse,
};
use prost::Message;
use sipbridge_signaling::outcome::SipStatus;
use tokio::sync::oneshot;
use tower::ServiceExt;

use super::auth::tests::{KEY, SECRET, call_token, expired_token, token, verifier};
use super::*;
use crate::health::Health;
use crate::http::{HttpState, router};
use crate::metrics::Metrics;

const CREATE: &str = "/twirp/livekit.SIP/CreateSIPParticipant";
const TRANSFER: &str = "/twirp/livekit.SIP/TransferSIPParticipant";

/// What the fake does with a call.
enum Fake {
    /// Answers, echoing the room and identity of the request.
    Answer,
    /// The far end refuses with this status.
    Refuse(SipStatus),
    /// Rings for ever; says when it started, and when its future is dropped.
    Ring {
        started: Mutex<Option<oneshot::Sender<()>>>,
        dropped: Mutex<Option<oneshot::Sender<()>>>,
    },
}

/// Reports its own drop: stands for the call a real service cancels.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

impl SipService for Fake {
    fn create_sip_participant(
        &self,
        request: CreateSipParticipantRequest,
    ) -> ServiceFuture<SipParticipantInfo> {
        match self {
            Fake::Answer => Box::pin(async move {
                Ok(SipParticipantInfo {
                    participant_id: "PA_fake".into(),
                    participant_identity: request.participant_identity,
                    room_name: request.room_name,
                    sip_call_id: "SCL_fake".into(),
                })
            }),
            Fake::Refuse(status) => {
                let error = ApiError::from_sip(
                    status,
                    format!("sip status {}: {}", status.code, status.reason),
                );
                Box::pin(async move { Err(error) })
            }
            Fake::Ring { started, dropped } => {
                let started = started.lock().unwrap().take();
                let guard = DropSignal(dropped.lock().unwrap().take());
                Box::pin(async move {
                    let _guard = guard;
                    if let Some(started) = started {
                        let _ = started.send(());
                    }
                    std::future::pending().await
                })
            }
        }
    }

    fn transfer_sip_participant(
        &self,
        request: TransferSipParticipantRequest,
    ) -> ServiceFuture<TransferSipParticipantResponse> {
        let result = match self {
            Fake::Refuse(status) => Err(ApiError::from_sip(status, "transfer failed")
                .with_meta("sip_transfer_reason", "STR_REJECTED")),
            _ => Ok(TransferSipParticipantResponse {
                transfer_id: format!("STF_{}", request.participant_identity),
                status: 2,
                reason: 1,
                sip_status: None,
            }),
        };
        Box::pin(async move { result })
    }
}

fn state(sip: Option<Fake>) -> HttpState {
    HttpState {
        health: Health::default(),
        metrics: Arc::new(Metrics::new()),
        verifier: verifier(),
        sip: sip.map(|fake| Arc::new(fake) as Arc<dyn SipService>),
        overload: Arc::new(|| None),
    }
}

fn node_request() -> CreateSipParticipantRequest {
    CreateSipParticipantRequest {
        sip_trunk_id: "ST_1".into(),
        sip_call_to: "+15550100".into(),
        room_name: "room-1".into(),
        participant_identity: "sip-1".into(),
        wait_until_answered: true,
        ..Default::default()
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a Twirp error: status, exact content type, code, and a message fragment.
    fn assert_error(&self, status: u16, code: &str, msg: &str) {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        let json = self.json();
        assert_eq!(json["code"], code, "{json}");
        let actual = json["msg"].as_str().unwrap();
        assert!(actual.contains(msg), "{actual:?} lacks {msg:?}");
    }
}

async fn send(
    state: HttpState,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(axum::body::Body::from(body)).unwrap();
    let response = router(state).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

/// CreateSIPParticipant as the Node SDK sends it: JSON, with a token.
async fn create_json(state: HttpState, token: &str) -> Answer {
    let body = serde_json::to_vec(&node_request()).unwrap();
    let auth = format!("Bearer {token}");
    let headers = [
        ("content-type", "application/json;charset=UTF-8"),
        ("authorization", auth.as_str()),
    ];
    send(state, "POST", CREATE, &headers, body).await
}

#[tokio::test]
async fn json_round_trip() {
    let answer = create_json(state(Some(Fake::Answer)), &call_token()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        answer.json(),
        serde_json::json!({"participantId": "PA_fake", "participantIdentity": "sip-1",
            "roomName": "room-1", "sipCallId": "SCL_fake"})
    );
}

#[tokio::test]
async fn protobuf_round_trip() {
    let auth = format!("Bearer {}", call_token());
    let headers = [
        ("content-type", "application/protobuf"),
        ("authorization", auth.as_str()),
    ];
    let body = node_request().encode_to_vec();
    let answer = send(state(Some(Fake::Answer)), "POST", CREATE, &headers, body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/protobuf");
    let info = SipParticipantInfo::decode(answer.body).unwrap();
    assert_eq!(info.room_name, "room-1");
    assert_eq!(info.participant_identity, "sip-1");
}

#[tokio::test]
async fn tokens_are_checked_before_the_service_runs() {
    let json = [("content-type", "application/json")];
    let missing = send(
        state(Some(Fake::Answer)),
        "POST",
        CREATE,
        &json,
        b"{}".to_vec(),
    )
    .await;
    missing.assert_error(401, "unauthenticated", "missing Authorization header");

    let other_secret = token(
        KEY,
        "not-the-secret-at-all",
        SIPGrants {
            admin: false,
            call: true,
        },
    );
    create_json(state(Some(Fake::Answer)), &other_secret)
        .await
        .assert_error(401, "unauthenticated", "signature does not match");
    create_json(state(Some(Fake::Answer)), &expired_token())
        .await
        .assert_error(401, "unauthenticated", "expired");

    let no_call = token(
        KEY,
        SECRET,
        SIPGrants {
            admin: true,
            call: false,
        },
    );
    create_json(state(Some(Fake::Answer)), &no_call)
        .await
        .assert_error(
            403,
            "permission_denied",
            "CreateSIPParticipant requires the sip.call grant",
        );
}

#[tokio::test]
async fn routes_outside_livekit_sip_are_bad_route() {
    let auth = format!("Bearer {}", call_token());
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    for path in [
        "/twirp/livekit.SIP/CreateSIPTrunk",
        "/twirp/livekit.SIP/DialEverybody",
        "/twirp/livekit.RoomService/CreateRoom",
        "/twirp/livekit.SIP/CreateSIPParticipant/extra",
        "/twirp/livekit.SIP",
    ] {
        let answer = send(
            state(Some(Fake::Answer)),
            "POST",
            path,
            &headers,
            b"{}".to_vec(),
        )
        .await;
        answer.assert_error(404, "bad_route", "no handler for path");
    }
    let get = send(
        state(Some(Fake::Answer)),
        "GET",
        CREATE,
        &headers,
        Vec::new(),
    )
    .await;
    get.assert_error(404, "bad_route", "only POST is allowed");
    let text = [
        ("content-type", "text/plain"),
        ("authorization", auth.as_str()),
    ];
    let answer = send(
        state(Some(Fake::Answer)),
        "POST",
        CREATE,
        &text,
        b"{}".to_vec(),
    )
    .await;
    answer.assert_error(404, "bad_route", "unexpected Content-Type \"text/plain\"");
}

#[tokio::test]
async fn other_sip_methods_are_unimplemented_by_name() {
    for method in ["ListSIPInboundTrunk", "CreateSIPDispatchRule"] {
        let path = format!("/twirp/livekit.SIP/{method}");
        let headers = [("content-type", "application/json")];
        let answer = send(
            state(Some(Fake::Answer)),
            "POST",
            &path,
            &headers,
            b"{}".to_vec(),
        )
        .await;
        answer.assert_error(501, "unimplemented", &format!("livekit.SIP/{method}"));
    }
}

#[tokio::test]
async fn an_undecodable_body_is_malformed() {
    let auth = format!("Bearer {}", call_token());
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let answer = send(
        state(Some(Fake::Answer)),
        "POST",
        CREATE,
        &headers,
        b"{\"roomName\":".to_vec(),
    )
    .await;
    answer.assert_error(400, "malformed", "could not be decoded");
}

#[tokio::test]
async fn without_a_service_the_method_is_unavailable() {
    create_json(state(None), &call_token()).await.assert_error(
        503,
        "unavailable",
        "no SIP service",
    );
}

#[tokio::test]
async fn a_refused_call_carries_its_sip_status_in_meta() {
    let busy = Fake::Refuse(SipStatus::new(486, "Busy Here"));
    let answer = create_json(state(Some(busy)), &call_token()).await;
    answer.assert_error(429, "resource_exhausted", "sip status 486: Busy Here");
    assert_eq!(
        answer.json()["meta"],
        serde_json::json!({"sip_status_code": "486", "sip_status": "Busy Here"})
    );

    let decline = Fake::Refuse(SipStatus::new(603, "Decline"));
    let answer = create_json(state(Some(decline)), &call_token()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        &answer.body[..],
        br#"{"code":"permission_denied","msg":"sip status 603: Decline","meta":{"sip_status":"Decline","sip_status_code":"603"}}"#
    );
}

/// The real service cancels a call when its future is dropped; this shows hyper drops it
/// when the API client disconnects mid-request.
#[tokio::test]
async fn a_client_that_disconnects_drops_the_service_future() {
    let (started, call_started) = oneshot::channel();
    let (dropped, call_dropped) = oneshot::channel();
    let ring = Fake::Ring {
        started: Mutex::new(Some(started)),
        dropped: Mutex::new(Some(dropped)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(state(Some(ring)));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let body = serde_json::to_vec(&node_request()).unwrap();
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         authorization: Bearer {}\r\ncontent-length: {}\r\n\r\n",
        call_token(),
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut client, head.as_bytes())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut client, &body)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), call_started)
        .await
        .expect("the service never started")
        .unwrap();

    drop(client);
    tokio::time::timeout(Duration::from_secs(5), call_dropped)
        .await
        .expect("the service future outlived its client")
        .unwrap();
    server.abort();
}

/// A token as the SDKs mint for TransferSIPParticipant: `sip.call` and `roomAdmin` for
/// `room` (or no room grant with `None`).
fn transfer_token(room: Option<&str>) -> String {
    let video = VideoGrants {
        room_admin: room.is_some(),
        room: room.unwrap_or_default().to_owned(),
        ..VideoGrants::default()
    };
    let sip = SIPGrants {
        admin: false,
        call: true,
    };
    AccessToken::with_api_key(KEY, SECRET)
        .with_grants(video)
        .with_sip_grants(sip)
        .to_jwt()
        .unwrap()
}

async fn transfer_json(fake: Fake, token: &str) -> Answer {
    let request = TransferSipParticipantRequest {
        room_name: "room-1".into(),
        participant_identity: "sip-1".into(),
        transfer_to: "+15550199".into(),
        ..Default::default()
    };
    let auth = format!("Bearer {token}");
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let body = serde_json::to_vec(&request).unwrap();
    send(state(Some(fake)), "POST", TRANSFER, &headers, body).await
}

#[tokio::test]
async fn transfers_need_room_admin_for_that_room() {
    let answer = transfer_json(Fake::Answer, &transfer_token(Some("room-1"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let json = answer.json();
    assert_eq!(json["transferId"], "STF_sip-1");
    assert_eq!(json["reason"], "STR_COMPLETED");

    let answer = transfer_json(Fake::Answer, &transfer_token(None)).await;
    answer.assert_error(
        403,
        "permission_denied",
        "roomAdmin grant for room \"room-1\"",
    );
    let answer = transfer_json(Fake::Answer, &transfer_token(Some("room-2"))).await;
    answer.assert_error(403, "permission_denied", "the token's is for \"room-2\"");
    let answer = transfer_json(Fake::Answer, &call_token()).await;
    answer.assert_error(403, "permission_denied", "roomAdmin");
}

#[tokio::test]
async fn a_failed_transfer_carries_its_sip_status_and_reason_in_meta() {
    let busy = Fake::Refuse(SipStatus::new(486, "Busy Here"));
    let answer = transfer_json(busy, &transfer_token(Some("room-1"))).await;
    answer.assert_error(429, "resource_exhausted", "transfer failed");
    let meta = &answer.json()["meta"];
    assert_eq!(meta["sip_status_code"], "486");
    assert_eq!(meta["sip_status"], "Busy Here");
    assert_eq!(meta["sip_transfer_reason"], "STR_REJECTED");
}
