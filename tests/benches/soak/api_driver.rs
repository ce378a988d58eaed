//! The soak's API side: one `tests/node/soak_api.mjs` process (the official Node server SDK)
//! for the whole run, fed one job per outbound call, each answered with one JSON line. The
//! answers go to a file, read at the end: held in memory they would grow the process the
//! soak measures (the bridge runs in it) by about a kilobyte per call.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sipbridge_tests::Bed;

#[derive(Debug)]
pub(crate) struct ApiDriver {
    child: Mutex<Child>,
    input: Mutex<Option<ChildStdin>>,
    answers: PathBuf,
    reader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ApiDriver {
    /// Starts the script against `bed`'s API (the soak's bridge) and LiveKit server; its
    /// answers go to a file in `dir`.
    pub(crate) fn start(bed: &Bed, dir: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(Bed::tests_file("node/soak_api.mjs"))
            // The tests directory, whose node_modules has the Node SDK.
            .current_dir(Bed::tests_file(""))
            .env("SIPBRIDGE_API_URL", &bed.api_url)
            .env("LIVEKIT_URL", &bed.livekit_url)
            .env("LIVEKIT_API_KEY", &bed.api_key)
            .env("LIVEKIT_API_SECRET", &bed.api_secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run node (tests/bed/setup installs the SDK)");
        let input = child.stdin.take();
        let output = BufReader::new(child.stdout.take().unwrap());
        let answers = dir.join(format!("soak-api-{}.jsonl", std::process::id()));
        let mut file = std::fs::File::create(&answers).unwrap();
        let reader = std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                writeln!(file, "{line}").unwrap();
            }
        });
        Self {
            child: Mutex::new(child),
            input: Mutex::new(input),
            answers,
            reader: Mutex::new(Some(reader)),
        }
    }

    /// Hands the script one job (see `soak_api.mjs`); it runs at once.
    pub(crate) fn submit(&self, job: &Value) {
        let mut input = self.input.lock().unwrap();
        let stdin = input.as_mut().expect("the driver is still taking jobs");
        writeln!(stdin, "{job}").expect("soak_api.mjs exited early");
    }

    /// Closes the job queue and waits up to `limit` for every job's answer.
    pub(crate) fn finish(&self, limit: Duration) -> Vec<Value> {
        drop(self.input.lock().unwrap().take());
        let started = Instant::now();
        let mut child = self.child.lock().unwrap();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > limit {
                eprintln!("soak: soak_api.mjs still running after {limit:?}, killed");
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some(reader) = self.reader.lock().unwrap().take() {
            let _ = reader.join();
        }
        let text = std::fs::read_to_string(&self.answers).unwrap_or_default();
        text.lines()
            .filter_map(|line| match serde_json::from_str::<Value>(line) {
                Ok(answer) => Some(answer),
                Err(_) => {
                    eprintln!("soak_api: {line}");
                    None
                }
            })
            .collect()
    }
}

impl Drop for ApiDriver {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}
