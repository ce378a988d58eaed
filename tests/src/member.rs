//! A room member played by the official LiveKit Python SDK (`tests/py/room_member.py`), or a
//! phone played by pjsip's user agent (`tests/py/phone.py`): Python helpers that report
//! events as JSON lines and take JSON commands on stdin.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::Bed;

/// One JSON line from the member.
pub type Event = serde_json::Value;

#[derive(Debug)]
pub struct RoomMember {
    pub identity: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<Event>,
    /// Events read while looking for another one, kept for later `expect`s.
    backlog: Vec<Event>,
}

impl RoomMember {
    /// Joins `room` as `identity`; `args` are further `room_member.py` options
    /// (e.g. `["--publish-tone", "440"]`).
    pub fn join(bed: &Bed, room: &str, identity: &str, args: &[&str]) -> Self {
        let mut all = vec!["--url", &bed.livekit_url, "--api-key", &bed.api_key];
        all.extend([
            "--api-secret",
            &bed.api_secret,
            "--room",
            room,
            "--identity",
            identity,
        ]);
        all.extend(args);
        Self::script(bed, "py/room_member.py", identity, &all)
    }

    /// Runs another helper of `tests/py/` (e.g. `py/phone.py`), named `label` in messages.
    pub fn script(bed: &Bed, script: &str, label: &str, args: &[&str]) -> Self {
        let identity = label;
        let script = Bed::tests_file(script);
        let mut child = Command::new(&bed.python)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bed.python.display()));
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (sender, events) = channel();
        let who = identity.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str(&line) {
                    Ok(event) => {
                        if sender.send(event).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("[{who}] {line}"),
                }
            }
        });
        Self {
            identity: identity.to_owned(),
            child,
            stdin,
            events,
            backlog: Vec::new(),
        }
    }

    /// The next event named `name`; panics after `timeout` or if the member exits first.
    pub fn expect(&mut self, name: &str, timeout: Duration) -> Event {
        self.expect_where(name, timeout, |_| true)
    }

    /// The next event named `name` that `matches` accepts. Other events stay queued for later
    /// calls, so waiting for one kind never loses another.
    pub fn expect_where(
        &mut self,
        name: &str,
        timeout: Duration,
        matches: impl Fn(&Event) -> bool,
    ) -> Event {
        let wanted = |event: &Event| event["event"] == name && matches(event);
        if let Some(at) = self.backlog.iter().position(wanted) {
            return self.backlog.remove(at);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if wanted(&event) => return event,
                Ok(event) if event["event"] == "error" => {
                    panic!("{}: command failed: {event}", self.identity)
                }
                Ok(event) => self.backlog.push(event),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: no {name:?} event within {timeout:?}", self.identity)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "{}: exited ({status:?}) before a {name:?} event",
                        self.identity
                    )
                }
            }
        }
    }

    /// The events named `name` that `matches` accepts and that arrived before the last one
    /// an `expect` returned, in order, removed from the queue.
    pub fn take_earlier(&mut self, name: &str, matches: impl Fn(&Event) -> bool) -> Vec<Event> {
        let (taken, kept) = std::mem::take(&mut self.backlog)
            .into_iter()
            .partition(|event| event["event"] == name && matches(event));
        self.backlog = kept;
        taken
    }

    /// Sends a stdin command (the member must run with `--commands`) and waits for its "done".
    pub fn command(&mut self, command: serde_json::Value) {
        let name = command["cmd"].as_str().unwrap_or_default().to_owned();
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        self.expect_where("done", Duration::from_secs(15), |e| {
            e["cmd"] == name.as_str()
        });
    }

    /// Waits for the member to exit by itself and returns whether it succeeded.
    pub fn wait(mut self) -> bool {
        // End of input ends a member that reads commands.
        drop(self.stdin.take());
        self.child.wait().is_ok_and(|status| status.success())
    }
}

impl Drop for RoomMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
