//! A bridge of a test's own, in the test process (`sipbridge::run` on ports bound here),
//! talking to the bed's livekit-server: for tests that stop it or need their own limits,
//! while the bed's bridge keeps serving the other tests.

use std::path::PathBuf;
use std::sync::Arc;

use sipbridge::sockets::BoundSockets;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Bed;

#[derive(Debug)]
pub struct OwnBridge {
    runtime: tokio::runtime::Runtime,
    stop: Option<oneshot::Sender<()>>,
    service: Option<JoinHandle<Result<(), sipbridge::Error>>>,
    /// The bed as seen through this bridge: its SIP address, API, metrics and call detail
    /// records.
    pub bed: Bed,
}

/// The bridges of a test run in its process: with `RUST_LOG` set, their log goes to stderr
/// (the evidence when something does not hold). Set up once per process.
fn log_to_stderr() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("RUST_LOG").is_some() {
        ONCE.call_once(|| {
            let _ = sipbridge::logging::init(&sipbridge_config::Logging::default());
        });
    }
}

impl OwnBridge {
    /// Starts a bridge whose config is the bed's LiveKit settings plus `yaml` (trunks,
    /// rules, limits…); `label` names its call detail record file.
    pub fn start(bed: &Bed, label: &str, yaml: &str) -> Self {
        Self::start_with_livekit(bed, label, &bed.livekit_url, yaml)
    }

    /// The same against the LiveKit server at `livekit_url` (e.g. one that is not there).
    pub fn start_with_livekit(bed: &Bed, label: &str, livekit_url: &str, yaml: &str) -> Self {
        log_to_stderr();
        let cdr: PathBuf = bed
            .dir
            .join(format!("{label}-cdr-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&cdr);
        let text = format!(
            "livekit: {{ url: \"{}\", api_key: {}, api_secret: {} }}\n\
             cdr: {{ path: \"{}\" }}\n{yaml}",
            livekit_url,
            bed.api_key,
            bed.api_secret,
            cdr.display()
        );
        // A test that sets `sip:` (its timers) names the external address itself.
        let text = if yaml.lines().any(|line| line.starts_with("sip:")) {
            text
        } else {
            text + "sip: { external_ip: 127.0.0.1 }\n"
        };
        // Tests share a busy two-core machine: the default CPU limit (0.9) would refuse their
        // calls at random. A test about limits sets its own.
        let text = if yaml.contains("limits:") {
            text
        } else {
            text + "limits: { max_cpu_utilization: 1.0 }\n"
        };
        let config = sipbridge_config::load_str("inline.yaml", &text, |_| None).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (service, sip_addr, http_addr) = runtime.block_on(async {
            let sockets = BoundSockets {
                sip_udp: vec![UdpSocket::bind("127.0.0.1:0").await.unwrap()],
                sip_tcp: vec![TcpListener::bind("127.0.0.1:0").await.unwrap()],
                http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            };
            let sip_addr = sockets.sip_udp[0].local_addr().unwrap();
            let http_addr = sockets.http.local_addr().unwrap();
            let service = tokio::spawn(sipbridge::run(Arc::new(config), sockets, async {
                let _ = stopped.await;
            }));
            (service, sip_addr, http_addr)
        });
        let bed = Bed {
            sip_addr: sip_addr.to_string(),
            api_url: format!("http://{http_addr}"),
            metrics_url: format!("http://{http_addr}/metrics"),
            cdr,
            ..bed.clone()
        };
        Self {
            runtime,
            stop: Some(stop),
            service: Some(service),
            bed,
        }
    }

    /// Signals shutdown, as SIGTERM would, without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the bridge to have drained and stopped; panics if it failed.
    pub fn wait(&mut self) {
        self.signal_stop();
        if let Some(service) = self.service.take() {
            self.runtime.block_on(service).unwrap().unwrap();
        }
    }
}

impl Drop for OwnBridge {
    fn drop(&mut self) {
        self.signal_stop();
        // A failed test's records stay, for whoever looks into it.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.bed.cdr);
            let mut journal = self.bed.cdr.clone().into_os_string();
            journal.push(".live");
            let _ = std::fs::remove_dir_all(journal);
        }
    }
}
