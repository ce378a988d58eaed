//! Where a message ends: the blank line after the headers, then Content-Length bytes of body
//! (RFC 3261 §7.5, §18.3). Datagrams hold one message each; streams need [`StreamFramer`].

use bytes::Bytes;
use ezk_sip_types::msg::PullParser;

use super::grammar::trim_lws;
use super::headers::canonical_name;
use crate::Error;

/// Bounds on what a peer may make us buffer and parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Head plus body. 64 KiB is the largest UDP datagram; nothing we handle needs more.
    pub max_message: usize,
    pub max_headers: usize,
    /// One unfolded header line.
    pub max_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 65_535,
            max_headers: 200,
            max_line: 8_192,
        }
    }
}

/// Length of the head including its terminating blank line, after any leading CRLFs the
/// caller already skipped; `None` if the blank line is not there (yet). The search starts at
/// `from`, where an earlier search of the same input stopped.
pub(crate) fn split_head(input: &[u8], from: usize) -> Option<usize> {
    let mut at = from.min(input.len());
    while let Some(offset) = input[at..].iter().position(|&b| b == b'\n') {
        let newline = at + offset;
        match input.get(newline + 1..) {
            Some([b'\n', ..]) => return Some(newline + 2),
            Some([b'\r', b'\n', ..]) => return Some(newline + 3),
            _ => at = newline + 1,
        }
    }
    None
}

/// Bytes that carry no message: CRLF keep-alives (RFC 5626 §3.5.1) and NAT pings.
pub fn is_keepalive(datagram: &[u8]) -> bool {
    datagram
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

/// Leading CRLFs before a start line are ignored (RFC 3261 §7.5).
pub(crate) fn skip_leading_crlf(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(input.len());
    &input[start..]
}

/// What a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// One complete message, for [`super::parse_message`].
    Message(Bytes),
    /// A double-CRLF ping (RFC 5626 §4.4.1): answer with a single CRLF.
    Ping,
}

/// Cuts a TCP (or TLS) byte stream into messages.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buffer: Vec<u8>,
    limits: Limits,
    /// How far the search for the end of the head got without finding it: a peer trickling
    /// bytes must not make every new byte rescan the whole buffer (quadratic CPU).
    scanned: usize,
    /// The length of the message being received, once its head is complete.
    total: Option<usize>,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        Self {
            buffer: Vec::new(),
            limits,
            scanned: 0,
            total: None,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// The next message or ping, `Ok(None)` when more bytes are needed. An error means the
    /// stream cannot be framed any more (no or conflicting Content-Length, oversized): the
    /// connection must be closed, as nothing after it can be trusted to start a message.
    pub fn next_frame(&mut self) -> Result<Option<Framed>, Error> {
        while self.buffer.starts_with(b"\r\n") {
            if self.buffer.starts_with(b"\r\n\r\n") {
                self.buffer.drain(..4);
                self.scanned = 0;
                return Ok(Some(Framed::Ping));
            }
            if self.buffer.len() < 4 {
                return Ok(None); // Could still become a ping.
            }
            self.buffer.drain(..2); // A pong, or CRLF before a start line.
            self.scanned = 0;
        }
        let total = match self.total {
            Some(total) => total,
            None => {
                // A terminator may straddle the old end: resume a few bytes back.
                let Some(head_len) = split_head(&self.buffer, self.scanned.saturating_sub(3))
                else {
                    if self.buffer.len() > self.limits.max_message {
                        return Err(Error::MessageTooLarge(self.limits.max_message));
                    }
                    self.scanned = self.buffer.len();
                    return Ok(None);
                };
                // RFC 3261 §18.3: on a stream, Content-Length is mandatory.
                let body_len = content_length(&self.buffer[..head_len])?
                    .ok_or(Error::MissingHeader("Content-Length"))?;
                let total = head_len.saturating_add(body_len);
                if total > self.limits.max_message {
                    return Err(Error::MessageTooLarge(self.limits.max_message));
                }
                self.total = Some(total);
                total
            }
        };
        if self.buffer.len() < total {
            return Ok(None);
        }
        let message = Bytes::copy_from_slice(&self.buffer[..total]);
        self.buffer.drain(..total);
        self.scanned = 0;
        self.total = None;
        Ok(Some(Framed::Message(message)))
    }
}

/// The Content-Length of a head; several lines must agree (RFC 4475 §3.3.9 shows why).
fn content_length(head: &[u8]) -> Result<Option<usize>, Error> {
    let invalid = Error::InvalidHeader {
        header: "Content-Length",
        why: "not a number",
    };
    let mut found = None;
    for line in PullParser::new(head, 0) {
        let Ok(line) = line else { break };
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon]);
        if canonical_name(name.trim_end()) != "Content-Length" {
            continue;
        }
        let value = String::from_utf8_lossy(&line[colon + 1..]);
        let length: usize = trim_lws(&value).parse().map_err(|_| invalid.clone())?;
        if found.is_some_and(|f| f != length) {
            return Err(Error::DuplicateHeader("Content-Length"));
        }
        found = Some(length);
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello";

    #[test]
    fn frames_byte_by_byte_with_pings_between() {
        let mut framer = StreamFramer::new(Limits::default());
        let stream = [b"\r\n\r\n".as_slice(), OPTIONS, b"\r\n", OPTIONS].concat();
        let mut frames = Vec::new();
        for byte in stream {
            framer.push(&[byte]);
            while let Some(frame) = framer.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        let message = Framed::Message(Bytes::from_static(OPTIONS));
        assert_eq!(frames, [Framed::Ping, message.clone(), message]);
    }

    #[test]
    fn a_large_message_trickled_byte_by_byte_frames_once() {
        let filler = "X-Filler: ".to_owned() + &"a".repeat(100) + "\r\n";
        let head = format!(
            "OPTIONS sip:a@b SIP/2.0\r\n{}l: 5\r\n\r\n",
            filler.repeat(150)
        );
        let message = [head.as_bytes(), b"hello"].concat();
        let mut framer = StreamFramer::new(Limits::default());
        let mut frames = Vec::new();
        for byte in &message {
            framer.push(&[*byte]);
            if let Some(frame) = framer.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, [Framed::Message(Bytes::from(message))]);
    }

    #[test]
    fn refuses_streams_it_cannot_frame() {
        for bad in [
            b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\n".as_slice(),
            b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\nContent-Length: 13\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nl: -5\r\n\r\n",
        ] {
            let mut framer = StreamFramer::new(Limits::default());
            framer.push(bad);
            assert!(framer.next_frame().is_err());
        }
        let mut framer = StreamFramer::new(Limits::default());
        framer.push(&vec![b'a'; 70_000]);
        assert_eq!(framer.next_frame(), Err(Error::MessageTooLarge(65_535)));
    }
}
