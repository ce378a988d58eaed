//! Our psrpc client and servers through a real redis-server (started by each test on a free
//! port of 127.0.0.1, stopped when it ends): one server answers each call, errors keep their
//! code and SIP status, nobody serving is `unavailable`, a node that does not accept leaves
//! the request to another, and calls work again after Redis restarts.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sipbridge_psrpc::bus::Bus;
use sipbridge_psrpc::client::Client;
use sipbridge_psrpc::server::{Accepting, Handler, Served, Server, Serving};
use sipbridge_psrpc::{Code, RpcError};

use common::{Process, Scratch};

const TIMEOUT: Duration = Duration::from_secs(3);

/// A redis-server of the test's own, without persistence.
struct Redis {
    process: Process,
    dir: Scratch,
}

impl Redis {
    /// `None` (with the reason printed) when redis-server is not installed, outside CI.
    fn start(test: &str) -> Option<Self> {
        let dir = Scratch::new(test);
        let process = common::plain(test, &dir, &[])?;
        Some(Self { process, dir })
    }

    fn url(&self) -> String {
        format!("redis://{}/", self.process.address())
    }

    /// Stops it and starts it again on the same port.
    fn restart(mut self, test: &str) -> Self {
        self.process.stop();
        let process = common::plain_on(test, self.process.port, &self.dir, &[]).unwrap();
        Self { process, ..self }
    }
}

fn echo(service: &str) -> Served {
    Served {
        service: service.into(),
        method: "Echo".into(),
        topic: Vec::new(),
    }
}

fn always() -> Accepting {
    Arc::new(|| true)
}

/// A handler that counts its calls and answers with the request reversed.
fn counting(count: Arc<AtomicUsize>) -> Handler {
    Arc::new(move |request, _deadline| {
        let count = count.clone();
        Box::pin(async move {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(request.into_iter().rev().collect())
        })
    })
}

async fn serve(bus: &Bus, accepting: Accepting, handler: Handler) -> Serving {
    Server::new(bus.clone())
        .serve(echo("Test"), accepting, handler)
        .await
        .unwrap()
}

/// Subscriptions are made asynchronously (as in psrpc): give them a moment.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_answered_by_exactly_one_of_two_servers() {
    let Some(redis) = Redis::start("each_call_is_answered_by_exactly_one_of_two_servers") else {
        return;
    };
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (first, second) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let _a = serve(&bus, always(), counting(first.clone())).await;
    let other_bus = Bus::connect(&redis.url()).await.unwrap();
    let _b = serve(&other_bus, always(), counting(second.clone())).await;
    let client = Client::new(bus.clone(), "Test").await.unwrap();
    settle().await;
    for i in 0..10u8 {
        let reply = client
            .call("Echo", &[], vec![1, 2, i], TIMEOUT)
            .await
            .unwrap();
        assert_eq!(reply, [i, 2, 1]);
    }
    let (a, b) = (first.load(Ordering::SeqCst), second.load(Ordering::SeqCst));
    assert_eq!(a + b, 10, "one handler per call: {a} + {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_keeps_its_code_message_and_sip_status() {
    let Some(redis) = Redis::start("an_error_keeps_its_code_message_and_sip_status") else {
        return;
    };
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let busy: Handler = Arc::new(|_, _| {
        Box::pin(async {
            Err(RpcError::new(Code::ResourceExhausted, "INVITE failed")
                .with_sip_status(486, "Busy Here"))
        })
    });
    let _server = serve(&bus, always(), busy).await;
    let client = Client::new(bus, "Test").await.unwrap();
    settle().await;
    let error = client
        .call("Echo", &[], Vec::new(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::ResourceExhausted);
    assert_eq!(error.message, "INVITE failed");
    assert_eq!(error.sip_status(), Some((486, "Busy Here".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_serving_the_call_is_unavailable_after_a_second() {
    let Some(redis) = Redis::start("with_nobody_serving_the_call_is_unavailable_after_a_second")
    else {
        return;
    };
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let client = Client::new(bus, "Test").await.unwrap();
    settle().await;
    let started = Instant::now();
    let error = client
        .call("Echo", &[], Vec::new(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::Unavailable, "{error}");
    let waited = started.elapsed();
    assert!(
        waited < TIMEOUT,
        "gave up after the selection window, not the timeout: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_accept_leaves_every_request_to_another() {
    let Some(redis) = Redis::start("a_node_that_does_not_accept_leaves_every_request_to_another")
    else {
        return;
    };
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let (refusing, taking) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let _draining = serve(&bus, Arc::new(|| false), counting(refusing.clone())).await;
    let _ready = serve(&bus, always(), counting(taking.clone())).await;
    let client = Client::new(bus, "Test").await.unwrap();
    settle().await;
    for _ in 0..5 {
        client.call("Echo", &[], vec![7], TIMEOUT).await.unwrap();
    }
    assert_eq!(refusing.load(Ordering::SeqCst), 0);
    assert_eq!(taking.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_work_again_after_redis_restarts() {
    let test = "calls_work_again_after_redis_restarts";
    let Some(redis) = Redis::start(test) else {
        return;
    };
    let bus = Bus::connect(&redis.url()).await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let _server = serve(&bus, always(), counting(count.clone())).await;
    let client = Client::new(bus, "Test").await.unwrap();
    settle().await;
    client.call("Echo", &[], vec![1], TIMEOUT).await.unwrap();
    let _redis = redis.restart(test);
    // The subscriptions come back within the reconnect wait (at most 2 s).
    let started = Instant::now();
    loop {
        match client.call("Echo", &[], vec![2], TIMEOUT).await {
            Ok(reply) => {
                assert_eq!(reply, [2]);
                break;
            }
            Err(error) => assert!(
                started.elapsed() < Duration::from_secs(10),
                "still failing after a restart: {error}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(count.load(Ordering::SeqCst) >= 2);
}
