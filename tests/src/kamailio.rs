//! Kamailio as the inbound load balancer of deploy/kamailio/kamailio.cfg, run as the recipe
//! documents for a local trial (deploy/README.md): in the foreground, on 127.0.0.1 with ports
//! of its own, its runtime directory (control socket, FIFO) and node list in the test's
//! directory. The nodes are set 1 of the dispatcher list; [`Kamailio::node_states`] reads
//! what its OPTIONS probes made of them, as `kamcmd dispatcher.list` shows it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Bed;
use crate::sipp::free_port;

/// A node as the dispatcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// `sip:127.0.0.1:PORT`, as in the dispatcher list.
    pub uri: String,
    /// The dispatcher's flags: `A` active, `T` trying (a probe failed), `I` inactive,
    /// `D` disabled; then `P` while probed, `X` before the first probe.
    pub flags: String,
}

impl NodeState {
    /// New calls may be sent to it (active, or trying: still selected).
    pub fn selectable(&self) -> bool {
        self.flags.starts_with('A') || self.flags.starts_with('T')
    }
}

/// A running Kamailio, stopped (SIGTERM, which it passes on to its worker processes) when
/// dropped, so that a failed test leaves none behind.
#[derive(Debug)]
pub struct Kamailio {
    child: Option<Child>,
    /// Where carriers send calls: the `SIP_PORT` socket, UDP and TCP.
    pub addr: String,
    run_dir: PathBuf,
    /// Its log (debug=2 on stderr: each call's node, each node going down or up).
    pub log: PathBuf,
}

impl Kamailio {
    /// Whether Kamailio can be run here. When it cannot, prints why `test` is skipped, or
    /// panics with `CI=true`, where nothing may be skipped.
    pub fn available(test: &str) -> bool {
        let found = Command::new("kamailio")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            let reason = "Kamailio is not installed (tests/bed/setup installs it)";
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{test}: {reason}");
            }
            eprintln!("SKIPPED {test}: {reason}");
        }
        found
    }

    /// Starts deploy/kamailio/kamailio.cfg in front of `nodes` (SIP addresses, "IP:PORT"),
    /// its files in `dir`, and returns once it listens and has read its node list.
    pub fn start(dir: &Path, nodes: &[&str]) -> Self {
        let run_dir = dir.join("run");
        std::fs::create_dir_all(&run_dir).unwrap();
        let list = dir.join("dispatcher.list");
        let lines: String = nodes.iter().map(|node| format!("1 sip:{node}\n")).collect();
        std::fs::write(&list, lines).unwrap();
        let (sip_port, internal_port) = (free_port(false), free_port(false));
        let log = dir.join("kamailio.log");
        let child = Command::new("kamailio")
            .arg("-DD") // in the foreground: this process is the one to stop
            .arg("-E") // log to stderr, which goes to the log file
            .arg("-f")
            .arg(Bed::tests_file("../deploy/kamailio/kamailio.cfg"))
            .arg("-Y")
            .arg(&run_dir)
            .args(["-A", "LISTEN_IP=127.0.0.1"])
            .args(["-A", &format!("SIP_PORT={sip_port}")])
            .args(["-A", &format!("INTERNAL_PORT={internal_port}")])
            .args(["-A", &format!("DISPATCHER_LIST=\"{}\"", list.display())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cannot run kamailio (tests/bed/setup installs it)");
        let mut kamailio = Self {
            child: Some(child),
            addr: format!("127.0.0.1:{sip_port}"),
            run_dir,
            log,
        };
        kamailio.wait_until_up(nodes.len());
        kamailio
    }

    /// Each node of set 1 with its flags now.
    pub fn node_states(&self) -> Vec<NodeState> {
        let output = Command::new("kamcmd")
            .arg("-s")
            .arg(format!(
                "unix:{}",
                self.run_dir.join("kamailio_ctl").display()
            ))
            .arg("dispatcher.list")
            .output()
            .expect("kamcmd (in the kamailio package)");
        parse_dispatcher_list(&String::from_utf8_lossy(&output.stdout))
    }

    /// The state of the node whose SIP address is `node` ("IP:PORT").
    pub fn node_state(&self, node: &str) -> Option<NodeState> {
        let uri = format!("sip:{node}");
        self.node_states()
            .into_iter()
            .find(|state| state.uri == uri)
    }

    /// Waits up to `limit` for `done` to hold of the dispatcher's view of `node`; returns
    /// how long that took, and panics with the node states and the log's path if it never
    /// did.
    pub fn wait_for_node(
        &self,
        node: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&NodeState) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let state = self.node_state(node);
            if state.as_ref().is_some_and(&done) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "Kamailio: {node} not {what} after {limit:?} ({state:?}); see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many lines of its log contain `text` (e.g. the recipe's "INVITE to node sip:…",
    /// one per call, naming the node picked first).
    pub fn log_lines_with(&self, text: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(text))
            .count()
    }

    /// Its carriers' UDP socket is bound and its control socket answers with every node
    /// listed.
    fn wait_until_up(&mut self, nodes: usize) {
        let port = self
            .addr
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap();
        let local = format!("0100007F:{port:04X}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bound = std::fs::read_to_string("/proc/net/udp")
                .unwrap_or_default()
                .lines()
                .any(|line| line.split_whitespace().nth(1) == Some(local.as_str()));
            if bound && self.node_states().len() == nodes {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "kamailio exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "kamailio not up after 20 s; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Kamailio {
    /// SIGTERM: Kamailio's main process stops its workers and exits. SIGKILL after 10 s
    /// would leave the workers, so it is only the last resort.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("kamailio did not stop on SIGTERM within 10 s: killed");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The destinations of `kamcmd dispatcher.list`: "URI: …" then "FLAGS: …" lines per DEST.
fn parse_dispatcher_list(text: &str) -> Vec<NodeState> {
    let mut states = Vec::new();
    let mut uri = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("URI: ") {
            uri = Some(value.to_owned());
        } else if let (Some(flags), Some(uri)) = (line.strip_prefix("FLAGS: "), uri.take()) {
            states.push(NodeState {
                uri,
                flags: flags.to_owned(),
            });
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatcher_list_gives_each_destination_and_its_flags() {
        let text = "{\n\tNRSETS: 1\n\tRECORDS: {\n\t\tSET: {\n\t\t\tID: 1\n\t\t\tTARGETS: {\n\
                    \t\t\t\tDEST: {\n\t\t\t\t\tURI: sip:127.0.0.1:45071\n\t\t\t\t\tFLAGS: IP\n\
                    \t\t\t\t\tPRIORITY: 0\n\t\t\t\t}\n\t\t\t\tDEST: {\n\
                    \t\t\t\t\tURI: sip:127.0.0.1:45070\n\t\t\t\t\tFLAGS: AP\n\
                    \t\t\t\t\tPRIORITY: 0\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n";
        let states = parse_dispatcher_list(text);
        assert_eq!(
            states,
            [
                NodeState {
                    uri: "sip:127.0.0.1:45071".into(),
                    flags: "IP".into()
                },
                NodeState {
                    uri: "sip:127.0.0.1:45070".into(),
                    flags: "AP".into()
                },
            ]
        );
        assert!(!states[0].selectable() && states[1].selectable());
    }
}
