//! Our psrpc against the real livekit-server through real Redis: a livekit-server of the
//! test's own, configured with the bed's Redis, hands CreateSIPParticipant (called through
//! both official SDKs, inline trunk) to a psrpc server of ours serving `SIPInternal`. The
//! request arrives as livekit-server built it; our answer reaches the SDK as a participant,
//! and our error, with its `livekit.SIPStatus`, as the SDK's `SipCallError`.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message as _;
use serde_json::json;
use sipbridge_psrpc::bus::Bus;
use sipbridge_psrpc::server::{Handler, Served, Server};
use sipbridge_psrpc::sip::{
    CREATE_SIP_PARTICIPANT, CreateSipParticipant, CreateSipParticipantReply, SIP_INTERNAL,
};
use sipbridge_psrpc::{Code, RpcError};
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::sipp::free_port;
use sipbridge_tests::{Bed, OwnLiveKit};

/// A Redis database of its own, so the queue locks of this test touch nothing else.
const REDIS_DB: u8 = 9;

#[test]
fn create_sip_participant_through_livekit_server_reaches_our_psrpc_server_and_back() {
    let test = "create_sip_participant_through_livekit_server_reaches_our_psrpc_server_and_back";
    let Some(bed) = Bed::get(test) else { return };
    let port = free_port(false);
    let udp_port = loop {
        let udp = free_port(false);
        if udp != port {
            break udp;
        }
    };
    let redis = format!("redis:\n  address: {}\n  db: {REDIS_DB}\n", bed.redis_addr);
    let server = OwnLiveKit::start_configured(
        &bed,
        &bed.livekit_server.clone(),
        "psrpc-livekit",
        (port, udp_port),
        &redis,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen: Arc<Mutex<Vec<CreateSipParticipant>>> = Arc::default();
    let _serving = runtime.block_on(async {
        let url = format!("redis://{}/{REDIS_DB}", bed.redis_addr);
        let bus = Bus::connect(&url).await.unwrap();
        let served = Served {
            service: SIP_INTERNAL.into(),
            method: CREATE_SIP_PARTICIPANT.into(),
            topic: Vec::new(),
        };
        let serving = Server::new(bus)
            .serve(served, Arc::new(|| true), answer(seen.clone()))
            .await
            .unwrap();
        // Subscriptions are made asynchronously, as in psrpc.
        tokio::time::sleep(Duration::from_millis(300)).await;
        serving
    });
    let caller = ApiCaller {
        api_url: server.url.replace("ws://", "http://"),
        ..ApiCaller::of(&bed)
    };
    for sdk in [Sdk::Node, Sdk::Python] {
        let answered = caller.create_sip_participant(sdk, &request("+15550100"), &[], LIMIT);
        let Some(info) = answered.ok.clone() else {
            panic!("{sdk:?}: {answered:?}")
        };
        assert_eq!(info["participant_identity"], "callee", "{sdk:?}: {info}");
        assert_eq!(info["participant_id"], "PA_ours", "{sdk:?}: {info}");
        assert!(
            info["sip_call_id"].as_str().unwrap().starts_with("SCL_"),
            "{sdk:?}: {info}"
        );
        let refused = caller.create_sip_participant(sdk, &request("+15550486"), &[], LIMIT);
        let Some(error) = refused.error.clone() else {
            panic!("{sdk:?}: {refused:?}")
        };
        assert_eq!(error.class, "SipCallError", "{sdk:?}: {error:?}");
        assert_eq!(error.sip_status_code, Some(486), "{sdk:?}: {error:?}");
        assert_eq!(error.sip_status, "Busy Here", "{sdk:?}: {error:?}");
        assert_eq!(error.code, "resource_exhausted", "{sdk:?}: {error:?}");
    }
    let seen = seen.lock().unwrap();
    let to: Vec<&str> = seen.iter().map(|r| r.call_to.as_str()).collect();
    // An answered call reaches our server once; a refused one may come again, since the SDKs
    // retry a `resource_exhausted` (HTTP 429) answer.
    assert_eq!(
        to.iter().filter(|t| **t == "+15550100").count(),
        2,
        "{to:?}"
    );
    assert!(
        to.iter().filter(|t| **t == "+15550486").count() >= 2,
        "{to:?}"
    );
    let first = &seen[0];
    assert_eq!(first.call_to, "+15550100");
    assert_eq!(first.room_name, "psrpc-room");
    assert_eq!(first.address, "127.0.0.1:5099");
    assert_eq!(first.number, "+15550199");
    assert!(first.sip_call_id.starts_with("SCL_"), "{first:?}");
    drop(server);
}

const LIMIT: Duration = Duration::from_secs(60);

/// CreateSIPParticipant with an inline trunk (livekit-server stores nothing for it).
fn request(to: &str) -> serde_json::Value {
    json!({
        "room_name": "psrpc-room",
        "participant_identity": "callee",
        "sip_call_to": to,
        "sip_number": "+15550199",
        "trunk": { "hostname": "127.0.0.1:5099", "transport": "udp" },
        "wait_until_answered": true,
    })
}

/// Our SIP node's stand-in: +15550486 is busy, anyone else answers.
fn answer(seen: Arc<Mutex<Vec<CreateSipParticipant>>>) -> Handler {
    Arc::new(move |bytes, _deadline| {
        let seen = seen.clone();
        Box::pin(async move {
            let request = CreateSipParticipant::decode(bytes.as_slice())
                .map_err(|e| RpcError::new(Code::MalformedRequest, e.to_string()))?;
            seen.lock().unwrap().push(request.clone());
            if request.call_to == "+15550486" {
                return Err(
                    RpcError::new(Code::ResourceExhausted, "INVITE failed: 486 Busy Here")
                        .with_sip_status(486, "Busy Here"),
                );
            }
            let reply = CreateSipParticipantReply {
                participant_id: "PA_ours".into(),
                participant_identity: request.participant_identity,
                sip_call_id: request.sip_call_id,
            };
            Ok(reply.encode_to_vec())
        })
    })
}
