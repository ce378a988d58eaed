//! PROTOS c07-sip (../shared/testdata/protos-c07-sip-invite.tar.xz): all 4,527 malformed
//! INVITEs sent to the running bridge binary over UDP (the 81 larger than a UDP datagram can
//! be, over TCP). The bridge must answer each with a well-formed response or drop it, never
//! crash or stall, and still answer OPTIONS and put a normal call through afterwards. Prints
//! the slowest parse.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sipbridge_signaling::message::{Limits, parse_message};
use sipbridge_signaling::sipfrag::parse_status;
use sipbridge_tests::Bed;
use sipbridge_tests::sipp::{run_uac, scenario};

/// The largest UDP payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;
/// How long to wait for the answer to one case before counting it as dropped.
const ANSWER_WAIT: Duration = Duration::from_millis(50);

fn unpack(into: &Path) -> Vec<(String, Vec<u8>)> {
    let archive = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/protos-c07-sip-invite.tar.xz");
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(&archive)
        .arg("-C")
        .arg(into)
        .status();
    assert!(
        status.unwrap().success(),
        "cannot unpack {}",
        archive.display()
    );
    let mut cases: Vec<PathBuf> = std::fs::read_dir(into.join("protos_inv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    cases
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect()
}

/// The status of a response we received. A 400 copies the request's Via lines as they were,
/// malformed ones included (RFC 3261 §8.2.6.2), so only the status line and the framing are
/// checked here.
fn status_of(bytes: &[u8]) -> Result<u16, String> {
    if !bytes.starts_with(b"SIP/2.0 ") || !bytes.ends_with(b"\r\n\r\n") {
        return Err(String::from_utf8_lossy(bytes).into_owned());
    }
    parse_status(bytes)
        .map(|status| status.code)
        .map_err(|e| e.to_string())
}

fn options(bridge: SocketAddr, n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:{bridge} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKprotos{n}\r\n\
         Max-Forwards: 70\r\nTo: <sip:{bridge}>\r\nFrom: <sip:protos@127.0.0.1>;tag=p{n}\r\n\
         Call-ID: protos-options-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn every_protos_invite_is_answered_or_dropped_and_the_bridge_carries_on() {
    let Some(bed) =
        Bed::get("every_protos_invite_is_answered_or_dropped_and_the_bridge_carries_on")
    else {
        return;
    };
    let bridge: SocketAddr = bed.sip_addr.parse().unwrap();
    let scratch = bed.dir.join("protos");
    std::fs::create_dir_all(&scratch).unwrap();
    let cases = unpack(&scratch);
    assert_eq!(cases.len(), 4527);

    // The slowest parse, measured in this process with the bridge's own parser.
    let (slowest_case, slowest) = cases
        .iter()
        .map(|(name, bytes)| {
            let started = Instant::now();
            let _ = parse_message(bytes, &Limits::default());
            (name.clone(), started.elapsed())
        })
        .max_by_key(|(_, took)| *took)
        .unwrap();

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut dropped, mut over_tcp) = (0, 0);
    let mut buffer = vec![0u8; 65_535];
    let started = Instant::now();
    for (name, bytes) in &cases {
        if bytes.len() > MAX_DATAGRAM {
            over_tcp += 1;
            send_over_tcp(bridge, bytes, name);
            continue;
        }
        socket.send_to(bytes, bridge).unwrap();
        // The final answer to this case: 100 Trying comes first for INVITEs that parse, and
        // finals of earlier cases are retransmitted (nobody ACKs them), so match the branch.
        let branch = branch_of(bytes);
        let answer = loop {
            let Ok((len, _)) = socket.recv_from(&mut buffer) else {
                break None;
            };
            let response = &buffer[..len];
            let status = status_of(response)
                .unwrap_or_else(|why| panic!("case {name}: the answer is not a response: {why}"));
            let ours = branch
                .as_ref()
                .is_none_or(|b| contains(response, b.as_bytes()));
            if status >= 200 && ours {
                break Some(status);
            }
        };
        match answer {
            Some(status) => *answers.entry(status).or_default() += 1,
            None => dropped += 1,
        }
    }
    let took = started.elapsed();

    // Not crashed, not stalled: OPTIONS is answered at once (past the retransmitted finals
    // still arriving for the cases), and a normal call goes through.
    let options_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    options_socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    options_socket.send_to(&options(bridge, 1), bridge).unwrap();
    let (len, _) = options_socket
        .recv_from(&mut buffer)
        .expect("OPTIONS after PROTOS got no answer");
    assert_eq!(status_of(&buffer[..len]), Ok(200));
    let auth = ["-au", "bed", "-ap", "bed-secret", "-d", "500"];
    let call = run_uac(
        &bed,
        "after-protos",
        &scenario("uac_auth", &[]),
        "+15550120",
        &auth,
        Duration::from_secs(30),
    );
    assert!(
        call.passed,
        "a normal call after PROTOS failed:\n{}",
        call.trace
    );

    println!(
        "PROTOS c07-sip: {} cases in {:.1} s ({over_tcp} over TCP); answered {:?}; dropped {dropped}; \
         slowest parse {:?} (case {slowest_case})",
        cases.len(),
        took.as_secs_f64(),
        answers,
        slowest,
    );
    assert!(
        answers.keys().all(|code| (400..700).contains(code)),
        "{answers:?}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The value of the first `branch=` parameter in the message, if there is a readable one.
fn branch_of(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let start = text.find("branch=")? + "branch=".len();
    let token = |c: &char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(*c);
    let branch: String = text[start..].chars().take_while(token).collect();
    (!branch.is_empty()).then_some(branch)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A case too large for a datagram goes over TCP; the bridge refuses oversized messages by
/// closing the connection, and must not stall while doing so.
fn send_over_tcp(bridge: SocketAddr, bytes: &[u8], name: &str) {
    let mut stream = TcpStream::connect(bridge).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // The bridge may close before everything is written: that is its answer.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) if answer.is_empty() => {}
        Ok(_) => panic!(
            "case {name} over TCP answered: {}",
            String::from_utf8_lossy(&answer)
        ),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => {
            panic!("case {name} over TCP: the bridge neither answered nor closed: {error}")
        }
    }
}
