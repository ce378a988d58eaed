//! The bus behind Redis Sentinel, with real redis-server processes: it finds the master through
//! a sentinel, and after a failover both its pub/sub and its commands follow the new master.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use sipbridge_psrpc::bus::{Bus, RedisSettings, SentinelSettings};
use tokio::sync::mpsc;

use common::Scratch;

const MASTER_NAME: &str = "sipbridge-test";

fn through(sentinel: &common::Process) -> RedisSettings {
    RedisSettings {
        sentinel: Some(SentinelSettings {
            master_name: MASTER_NAME.into(),
            addresses: vec![sentinel.address()],
            ..SentinelSettings::default()
        }),
        ..RedisSettings::default()
    }
}

/// Publishes `payload` until it arrives on `payloads` (a fresh subscription takes a moment,
/// and a failover longer), or gives up after `patience`.
async fn round_trip(
    bus: &Bus,
    payloads: &mut mpsc::Receiver<Vec<u8>>,
    payload: &[u8],
    patience: Duration,
) {
    let started = Instant::now();
    loop {
        if let Err(error) = bus.publish("sentinel-test", payload.to_vec()).await {
            eprintln!("publish failed (retrying): {error}");
        }
        match tokio::time::timeout(Duration::from_millis(300), payloads.recv()).await {
            Ok(Some(received)) if received == payload => return,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the subscription ended"),
            Err(_) => assert!(
                started.elapsed() < patience,
                "{payload:?} did not arrive within {patience:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_finds_the_master_through_a_sentinel() {
    let test = "the_bus_finds_the_master_through_a_sentinel";
    let dir = Scratch::new(test);
    let Some(master) = common::plain(test, &dir, &[]) else {
        return;
    };
    let sentinel = common::sentinel(test, &dir, MASTER_NAME, &master).unwrap();
    let bus = Bus::connect_with(&through(&sentinel)).await.unwrap();
    let mut payloads = bus.subscribe("sentinel-test").await.unwrap();
    round_trip(&bus, &mut payloads, b"hello", Duration::from_secs(5)).await;
    // The queue lock is a write: it went to the master.
    assert!(bus.lock(b"one request").await.unwrap());
    assert!(!bus.lock(b"one request").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_the_bus_follows_the_new_master() {
    let test = "after_a_failover_the_bus_follows_the_new_master";
    let dir = Scratch::new(test);
    // Redis waits 5 s before a replica's first sync by default, in case more replicas come.
    let Some(mut master) = common::plain(test, &dir, &["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    let master_port = master.port.to_string();
    let replica = common::plain(test, &dir, &["--replicaof", "127.0.0.1", &master_port]).unwrap();
    wait_for_replication(&replica).await;
    let sentinel = common::sentinel(test, &dir, MASTER_NAME, &master).unwrap();
    let bus = Bus::connect_with(&through(&sentinel)).await.unwrap();
    let mut payloads = bus.subscribe("sentinel-test").await.unwrap();
    round_trip(&bus, &mut payloads, b"before", Duration::from_secs(5)).await;

    master.stop();
    // Down after 500 ms, then the sentinel promotes the replica: a few seconds.
    round_trip(&bus, &mut payloads, b"after", Duration::from_secs(30)).await;
    let promoted = redis::Client::open(format!("redis://{}/", replica.address())).unwrap();
    let mut promoted = promoted.get_multiplexed_async_connection().await.unwrap();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut promoted).await.unwrap();
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"master".to_vec()))
    );
    // Commands follow too: the lock is written on the new master, which accepts writes.
    let started = Instant::now();
    while bus.lock(b"after the failover").await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the lock still fails"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Until the replica has its copy of the master, so that the sentinel may promote it.
async fn wait_for_replication(replica: &common::Process) {
    let client = redis::Client::open(format!("redis://{}/", replica.address())).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let started = Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut connection)
            .await
            .unwrap();
        if info.contains("master_link_status:up") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica did not sync: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
