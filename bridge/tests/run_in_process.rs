//! `sipbridge::run` with sockets the test bound itself on port 0, as later end-to-end tests do.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use sipbridge::sockets::BoundSockets;
use tokio::net::{TcpListener, UdpSocket};

/// No CPU limit: above it `/health` says 429, and a busy test machine must not decide this test.
const CONFIG: &str = "livekit: { url: ws://127.0.0.1:7880, api_key: k, api_secret: s }\n\
                      sip: { external_ip: 127.0.0.1 }\n\
                      shutdown: { drain_timeout: 1s }\n\
                      limits: { max_cpu_utilization: 1.0 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_sockets_bound_by_the_caller_until_shutdown() {
    let config = sipbridge_config::load_str("inline.yaml", CONFIG, |_| None).unwrap();
    let sockets = BoundSockets {
        sip_udp: vec![UdpSocket::bind("127.0.0.1:0").await.unwrap()],
        sip_tcp: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
        http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let http = sockets.http.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(sipbridge::run(Arc::new(config), sockets, async {
        let _ = stopped.await;
    }));

    let get = |path: &'static str| {
        let http = http.clone();
        tokio::task::spawn_blocking(move || common::http_get(&http, path))
    };
    // Like a load balancer's probe: 503 "starting" is allowed until the service is ready.
    let mut health = get("/health").await.unwrap();
    for _ in 0..50 {
        if health.0 == 200 {
            break;
        }
        assert_eq!(health, (503, "starting\n".to_owned()));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        health = get("/health").await.unwrap();
    }
    assert_eq!(health, (200, "ready\n".to_owned()));
    assert!(
        get("/metrics")
            .await
            .unwrap()
            .1
            .contains("sipbridge_active_calls 0")
    );

    stop.send(()).unwrap();
    service.await.unwrap().unwrap();
    assert!(
        std::net::TcpStream::connect(&http).is_err(),
        "the HTTP listener is still open"
    );
}
