//! Shutting down with a call up: after the drain period the bridge sends BYE to the phone,
//! the participant leaves, and the call's record says SERVER_SHUTDOWN, 503 "Shutting down"
//! (shared/OUTCOMES.md). A bridge of its own (in this process, on port 0) against the bed's
//! livekit-server, so the bed's bridge keeps running.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use sipbridge::sockets::BoundSockets;
use sipbridge_tests::sipp::{ROOM_HANGS_UP, run_uac, scenario};
use sipbridge_tests::{Bed, RoomMember};
use tokio::net::{TcpListener, UdpSocket};

#[test]
fn a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record() {
    let Some(bed) = Bed::get("a_call_still_up_at_shutdown_gets_bye_and_a_server_shutdown_record")
    else {
        return;
    };
    let cdr = bed
        .dir
        .join(format!("shutdown-cdr-{}.jsonl", std::process::id()));
    let config = format!(
        "livekit: {{ url: \"{}\", api_key: {}, api_secret: {} }}\n\
         sip: {{ external_ip: 127.0.0.1 }}\n\
         rtp: {{ port_range: {{ min: 21000, max: 21099 }} }}\n\
         inbound_trunks: [{{ id: t, numbers: [\"+15550150\"], allowed_addresses: [127.0.0.0/8] }}]\n\
         dispatch_rules: [{{ id: r, rule: {{ direct: {{ room: bed-shutdown }} }} }}]\n\
         cdr: {{ path: \"{}\" }}\n\
         shutdown: {{ drain_timeout: 1s }}\n",
        bed.livekit_url,
        bed.api_key,
        bed.api_secret,
        cdr.display()
    );
    let config = Arc::new(sipbridge_config::load_str("inline.yaml", &config, |_| None).unwrap());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (service, sip_addr) = runtime.block_on(async {
        let sockets = BoundSockets {
            sip_udp: vec![UdpSocket::bind("127.0.0.1:0").await.unwrap()],
            sip_tcp: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
            http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let sip_addr = sockets.sip_udp[0].local_addr().unwrap();
        let service = tokio::spawn(sipbridge::run(config, sockets, async {
            let _ = stopped.await;
        }));
        (service, sip_addr)
    });
    let own = Bed {
        sip_addr: sip_addr.to_string(),
        cdr: cdr.clone(),
        ..bed.clone()
    };

    let mut member = RoomMember::join(&bed, "bed-shutdown", "watcher", &["--commands"]);
    member.expect("joined", Duration::from_secs(30));
    let phone = {
        let own = own.clone();
        let text = scenario("uac_call", &[("HANGUP", ROOM_HANGS_UP)]);
        std::thread::spawn(move || {
            run_uac(
                &own,
                "shutdown",
                &text,
                "+15550150",
                &[],
                Duration::from_secs(30),
            )
        })
    };
    member.expect_where("attributes", Duration::from_secs(30), |e| {
        e["from"] == "sip_+15557770001" && e["attributes"]["sip.callStatus"] == "active"
    });
    let _ = stop.send(());
    let run = phone.join().unwrap();
    assert!(run.passed, "the phone did not get its BYE:\n{}", run.trace);
    runtime.block_on(service).unwrap().unwrap();

    let record = own.cdr_of(&run.call_id, Duration::from_secs(5));
    assert_eq!(record["disconnectReason"], "SERVER_SHUTDOWN", "{record}");
    assert_eq!(record["callStatusCode"]["code"], 503, "{record}");
    assert_eq!(
        record["callStatusCode"]["status"], "Shutting down",
        "{record}"
    );
    let left = member.expect_where("left", Duration::from_secs(10), |e| {
        e["identity"] == "sip_+15557770001"
    });
    assert_eq!(
        left["attributes"]["sip.disconnectReason"],
        "SERVER_SHUTDOWN"
    );
    drop(member);
    let _ = std::fs::remove_file(&cdr);
}
