//! Helpers shared by the SDP test files.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::net::SocketAddr;

use sipbridge_signaling::sdp::{Codec, CodecPreferences, LocalSession, SessionDescription, parse};

pub const TWILIO: &[u8] = include_bytes!("../../testdata/sdp/twilio.sdp");
pub const TELNYX: &[u8] = include_bytes!("../../testdata/sdp/telnyx.sdp");
pub const ASTERISK: &[u8] = include_bytes!("../../testdata/sdp/asterisk.sdp");
pub const FREESWITCH: &[u8] = include_bytes!("../../testdata/sdp/freeswitch.sdp");
pub const LINPHONE_VIDEO: &[u8] = include_bytes!("../../testdata/sdp/linphone_video.sdp");
pub const FIXTURES: [&[u8]; 5] = [TWILIO, TELNYX, ASTERISK, FREESWITCH, LINPHONE_VIDEO];

pub const SESSION_ID: u64 = 4242;

pub fn local_address() -> SocketAddr {
    "198.51.100.7:30000".parse().unwrap()
}

pub fn session(codecs: &[Codec], telephone_event: bool) -> LocalSession {
    let preferences = CodecPreferences::new(codecs, telephone_event).unwrap();
    LocalSession::new(SESSION_ID, local_address(), preferences)
}

pub fn default_session() -> LocalSession {
    LocalSession::new(SESSION_ID, local_address(), CodecPreferences::default())
}

pub fn sdp(body: &[u8]) -> SessionDescription {
    parse(body).unwrap()
}

/// A fixture with one substring replaced, parsed.
pub fn edited(body: &[u8], from: &str, to: &str) -> SessionDescription {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.contains(from), "{from:?} not in fixture");
    parse(text.replace(from, to).as_bytes()).unwrap()
}

/// Our SDP text from lines, with CRLF after each.
pub fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

/// The session part every SDP of ours starts with.
pub fn head(version: u64) -> Vec<String> {
    vec![
        "v=0".into(),
        format!("o=- {SESSION_ID} {version} IN IP4 198.51.100.7"),
        "s=sipbridge".into(),
        "c=IN IP4 198.51.100.7".into(),
        "t=0 0".into(),
    ]
}

/// `head(version)` followed by `rest`, as SDP text.
pub fn ours(version: u64, rest: &[&str]) -> String {
    let mut all = head(version);
    all.extend(rest.iter().map(|l| l.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    lines(&refs)
}
