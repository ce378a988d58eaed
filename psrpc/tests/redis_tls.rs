//! The bus over TLS to a real redis-server (whose certificates are made here, by a CA of the
//! test's own): verified against a CA file, refused by the system's roots, accepted unverified
//! with `insecure`, and with a client certificate when the server asks for one.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use sipbridge_psrpc::bus::{Bus, RedisSettings, TlsSettings};

use common::Scratch;

/// PEM files: a CA, a server certificate for 127.0.0.1 and a client certificate, both
/// signed by the CA.
struct Certificates {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pem(label: &str, der: &[u8]) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Certificate parameters for `names`, with a subject of its own: OpenSSL (redis-server) takes
/// a certificate whose subject is its issuer's for a self-signed one.
fn params(common_name: &str, names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

fn certificates(dir: &Path) -> Certificates {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = params("sipbridge test CA", &[]);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_cert = params("redis", &["127.0.0.1"])
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = params("sipbridge", &["sipbridge"])
        .signed_by(&client_key, &ca)
        .unwrap();
    Certificates {
        ca: write("ca.pem", pem("CERTIFICATE", ca_cert.der())),
        server_cert: write("server.pem", pem("CERTIFICATE", server_cert.der())),
        server_key: write(
            "server.key",
            pem("PRIVATE KEY", &server_key.serialize_der()),
        ),
        client_cert: write("client.pem", pem("CERTIFICATE", client_cert.der())),
        client_key: write(
            "client.key",
            pem("PRIVATE KEY", &client_key.serialize_der()),
        ),
    }
}

/// A redis-server listening only on TLS; `clients_need_certificates` makes it ask for one.
fn tls_redis(
    test: &str,
    certs: &Certificates,
    clients_need_certificates: bool,
) -> Option<common::Process> {
    let port = common::free_port();
    let port_text = port.to_string();
    let (cert, key, ca) = (
        certs.server_cert.display().to_string(),
        certs.server_key.display().to_string(),
        certs.ca.display().to_string(),
    );
    let auth_clients = if clients_need_certificates {
        "yes"
    } else {
        "no"
    };
    let args = [
        "--port",
        "0",
        "--tls-port",
        &port_text,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        auth_clients,
    ];
    common::redis_server(test, port, &args)
}

fn over_tls(redis: &common::Process, tls: TlsSettings) -> RedisSettings {
    RedisSettings {
        tls: Some(tls),
        ..RedisSettings::address(redis.address())
    }
}

/// A message goes through the bus and comes back (the subscription takes a moment).
async fn round_trip(bus: &Bus) {
    let mut payloads = bus.subscribe("tls-test").await.unwrap();
    let started = Instant::now();
    loop {
        bus.publish("tls-test", b"over TLS".to_vec()).await.unwrap();
        if let Ok(Some(payload)) =
            tokio::time::timeout(Duration::from_millis(200), payloads.recv()).await
        {
            assert_eq!(payload, b"over TLS");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "nothing came back"
        );
    }
    assert!(bus.lock(b"a request").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verified_against_a_ca_file() {
    let test = "tls_verified_against_a_ca_file";
    let dir = Scratch::new(test);
    let certs = certificates(dir.path());
    let Some(redis) = tls_redis(test, &certs, false) else {
        return;
    };
    let verified = TlsSettings {
        ca_cert_file: Some(certs.ca.clone()),
        ..TlsSettings::default()
    };
    let bus = Bus::connect_with(&over_tls(&redis, verified))
        .await
        .unwrap();
    round_trip(&bus).await;

    // The system's roots do not know the test's CA.
    let error = Bus::connect_with(&over_tls(&redis, TlsSettings::default()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_insecure_accepts_any_certificate() {
    let test = "tls_insecure_accepts_any_certificate";
    let dir = Scratch::new(test);
    let certs = certificates(dir.path());
    let Some(redis) = tls_redis(test, &certs, false) else {
        return;
    };
    let insecure = TlsSettings {
        insecure: true,
        ..TlsSettings::default()
    };
    let bus = Bus::connect_with(&over_tls(&redis, insecure))
        .await
        .unwrap();
    round_trip(&bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_client_certificate() {
    let test = "tls_with_a_client_certificate";
    let dir = Scratch::new(test);
    let certs = certificates(dir.path());
    let Some(redis) = tls_redis(test, &certs, true) else {
        return;
    };
    let without = TlsSettings {
        ca_cert_file: Some(certs.ca.clone()),
        ..TlsSettings::default()
    };
    assert!(
        Bus::connect_with(&over_tls(&redis, without.clone()))
            .await
            .is_err()
    );
    let with = TlsSettings {
        client_cert_file: Some(certs.client_cert.clone()),
        client_key_file: Some(certs.client_key.clone()),
        ..without
    };
    let bus = Bus::connect_with(&over_tls(&redis, with)).await.unwrap();
    round_trip(&bus).await;
}
