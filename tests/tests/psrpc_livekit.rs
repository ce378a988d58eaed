//! Our psrpc against the real livekit-server through real Redis, both ways, with a
//! livekit-server of the test's own configured with the bed's Redis, for each version the bed
//! compares (v1.13.5 speaks psrpc v0.7.2, v1.13.11 psrpc v0.8.2):
//! - it hands CreateSIPParticipant (called through both official SDKs, inline trunk) to a
//!   psrpc server of ours serving `SIPInternal`: the request arrives as livekit-server built
//!   it, our answer reaches the SDK as a participant, and our error, with its
//!   `livekit.SIPStatus`, as the SDK's `SipCallError`;
//! - our psrpc client asks its `IOInfo` for the trunk and the dispatch of an INVITE, against
//!   trunks and rules created through it with the Python SDK.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message as _;
use serde_json::json;
use sipbridge_psrpc::bus::Bus;
use sipbridge_psrpc::client::Client;
use sipbridge_psrpc::io::{
    CallStateUpdate, Dispatch, DispatchRequest, DispatchResult, EVALUATE_SIP_DISPATCH_RULES,
    GET_SIP_TRUNK_AUTHENTICATION, IO_INFO, SipCall, SipUri, TrunkAuthentication,
    TrunkAuthenticationRequest, UPDATE_SIP_CALL_STATE,
};
use sipbridge_psrpc::server::{Handler, Served, Server};
use sipbridge_psrpc::sip::{
    CREATE_SIP_PARTICIPANT, CreateSipParticipant, CreateSipParticipantReply, SIP_INTERNAL,
};
use sipbridge_psrpc::{Code, RpcError};
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::observe::LIVEKIT_SERVERS;
use sipbridge_tests::sipp::two_free_ports;
use sipbridge_tests::{Bed, OwnLiveKit, store_through};

/// The first of the Redis databases these tests use, one per server version, so their queue
/// locks and SIP stores touch nothing else.
const REDIS_DB: usize = 9;

/// Each version of livekit-server the bed compares, one after the other (pub/sub channels
/// are not per database: two servers at once would answer each other's requests).
#[test]
fn psrpc_interop_with_every_livekit_server_version() {
    let test = "psrpc_interop_with_every_livekit_server_version";
    let Some(bed) = Bed::get(test) else { return };
    for (index, (version, _)) in LIVEKIT_SERVERS.iter().enumerate() {
        let Some(binary) = bed.livekit_server_build(test, version) else {
            continue;
        };
        let redis = Redis {
            addr: &bed.redis_addr,
            db: REDIS_DB + index,
        };
        let server = livekit_on_redis(&bed, &binary, &format!("psrpc-{version}"), &redis);
        eprintln!("livekit-server {version}: CreateSIPParticipant to our psrpc server");
        create_sip_participant_reaches_our_server(&bed, &server, &redis);
        eprintln!("livekit-server {version}: IOInfo for our psrpc client");
        our_client_gets_trunks_and_dispatch(&bed, &server, &redis);
    }
}

/// Where the servers and our bus meet.
struct Redis<'a> {
    addr: &'a str,
    db: usize,
}

impl Redis<'_> {
    fn url(&self) -> String {
        format!("redis://{}/{}", self.addr, self.db)
    }
}

fn create_sip_participant_reaches_our_server(bed: &Bed, server: &OwnLiveKit, redis: &Redis) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen: Arc<Mutex<Vec<CreateSipParticipant>>> = Arc::default();
    let _serving = runtime.block_on(async {
        let bus = Bus::connect(&redis.url()).await.unwrap();
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
        ..ApiCaller::of(bed)
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
}

const LIMIT: Duration = Duration::from_secs(60);

/// A livekit-server (`binary`) of the test's own, on `redis`.
fn livekit_on_redis(bed: &Bed, binary: &Path, name: &str, redis: &Redis) -> OwnLiveKit {
    let (port, udp_port) = two_free_ports();
    let config = format!("redis:\n  address: {}\n  db: {}\n", redis.addr, redis.db);
    OwnLiveKit::start_configured(bed, binary, name, (port, udp_port), &config)
}

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

/// The other direction: trunks and a dispatch rule created through livekit-server with the
/// Python SDK, then looked up by our psrpc client as a SIP node does for each INVITE
/// (IOInfo.GetSIPTrunkAuthentication, IOInfo.EvaluateSIPDispatchRules).
fn our_client_gets_trunks_and_dispatch(bed: &Bed, server: &OwnLiveKit, redis: &Redis) {
    let caller = ApiCaller {
        api_url: server.url.replace("ws://", "http://"),
        ..ApiCaller::of(bed)
    };
    let open = store(
        &caller,
        json!({"inbound_trunk": {"name": "open", "numbers": ["+15550900"],
                                 "allowed_addresses": ["127.0.0.1"]}}),
    );
    let guarded = store(
        &caller,
        json!({"inbound_trunk": {"name": "guarded", "numbers": ["+15550901"],
                                 "auth_username": "alice", "auth_password": "wonderland"}}),
    );
    store(
        &caller,
        json!({"dispatch_rule": {"dispatch_rule": {
            "trunk_ids": [open],
            "rule": {"dispatch_rule_direct": {"room_name": "io-room", "pin": "1234"}}}}}),
    );
    store(
        &caller,
        json!({"dispatch_rule": {"dispatch_rule": {
            "trunk_ids": [guarded],
            "rule": {"dispatch_rule_individual": {"room_prefix": "call-"}},
            "room_config": {"agents": [{"agent_name": "helper"}]}}}}),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let bus = Bus::connect(&redis.url()).await.unwrap();
        let client = Client::new(bus, IO_INFO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let found = authenticate(&client, "+15550900").await;
        assert_eq!(found.sip_trunk_id, open, "{found:?}");
        assert!(found.username.is_empty() && !found.drop, "{found:?}");
        let found = authenticate(&client, "+15550901").await;
        assert_eq!(found.sip_trunk_id, guarded, "{found:?}");
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("alice", "wonderland")
        );

        let pin_asked = dispatch(&client, &open, "+15550900", "").await;
        assert_eq!(
            pin_asked.result,
            DispatchResult::RequestPin as i32,
            "{pin_asked:?}"
        );
        let admitted = dispatch(&client, &open, "+15550900", "1234").await;
        assert_eq!(
            admitted.result,
            DispatchResult::Accept as i32,
            "{admitted:?}"
        );
        assert_eq!(admitted.room_name, "io-room");
        let individual = dispatch(&client, &guarded, "+15550901", "").await;
        assert_eq!(
            individual.result,
            DispatchResult::Accept as i32,
            "{individual:?}"
        );
        assert!(individual.room_name.starts_with("call-"), "{individual:?}");
        let agents = &individual.room_config.as_ref().unwrap().agents;
        assert_eq!(agents[0].agent_name, "helper", "{individual:?}");

        // A node's report of a call that ended: taken (and, by these versions, dropped).
        let ended = CallStateUpdate {
            call_info: Some(livekit_protocol::SipCallInfo {
                call_id: "SCL_io900".into(),
                call_status: livekit_protocol::SipCallStatus::ScsDisconnected as i32,
                ..Default::default()
            }),
            transfer_info: None,
        };
        let reported = client
            .call(
                UPDATE_SIP_CALL_STATE,
                &[],
                ended.encode_to_vec(),
                IO_TIMEOUT,
            )
            .await;
        assert_eq!(reported, Ok(Vec::new()), "UpdateSIPCallState");
    });
}

/// An INVITE from 127.0.0.1 to `to`, as a node describes it.
fn call(to: &str) -> SipCall {
    let uri = |user: &str| SipUri {
        user: user.into(),
        host: "127.0.0.1".into(),
        ip: "127.0.0.1".into(),
        port: 5060,
        ..SipUri::default()
    };
    SipCall {
        lk_call_id: format!("SCL_io{}", &to[to.len() - 3..]),
        source_ip: "127.0.0.1".into(),
        address: Some(uri(to)),
        from: Some(uri("+15557770001")),
        to: Some(uri(to)),
        sip_call_id: format!("io-{to}@127.0.0.1"),
    }
}

async fn authenticate(client: &Client, to: &str) -> TrunkAuthentication {
    let request = TrunkAuthenticationRequest {
        call: Some(call(to)),
        ..TrunkAuthenticationRequest::default()
    };
    let bytes = client
        .call(
            GET_SIP_TRUNK_AUTHENTICATION,
            &[],
            request.encode_to_vec(),
            IO_TIMEOUT,
        )
        .await
        .unwrap();
    TrunkAuthentication::decode(bytes.as_slice()).unwrap()
}

async fn dispatch(client: &Client, trunk: &str, to: &str, pin: &str) -> Dispatch {
    let request = DispatchRequest {
        sip_trunk_id: trunk.into(),
        pin: pin.into(),
        call: Some(call(to)),
        ..DispatchRequest::default()
    };
    let bytes = client
        .call(
            EVALUATE_SIP_DISPATCH_RULES,
            &[],
            request.encode_to_vec(),
            IO_TIMEOUT,
        )
        .await
        .unwrap();
    Dispatch::decode(bytes.as_slice()).unwrap()
}

const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// Creates a trunk or rule through livekit-server with the Python SDK: its id.
fn store(caller: &ApiCaller, order: serde_json::Value) -> String {
    store_through(caller, Sdk::Python, &order)
}
