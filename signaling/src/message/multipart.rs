//! The SDP of a request body: the body itself, or the `application/sdp` part of a
//! `multipart/mixed` body (RFC 2046 §5.1), as carriers send with SIP-T/SIP-I (SDP and ISUP
//! together, RFC 3204) or with a location object.

use super::Head;
use super::grammar::trim_lws;

/// The SDP in a message body, if there is one.
pub fn sdp_body<'b>(head: &Head, body: &'b [u8]) -> Option<&'b [u8]> {
    match head.media_type() {
        None | Some("application/sdp") => (!body.is_empty()).then_some(body),
        Some("multipart/mixed" | "multipart/alternative" | "multipart/related") => {
            let content_type = head.content_type.as_deref()?;
            sdp_part(body, boundary(content_type)?)
        }
        Some(_) => None,
    }
}

/// The `boundary` parameter of a multipart Content-Type, unquoted.
fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        trim_lws(name)
            .eq_ignore_ascii_case("boundary")
            .then(|| trim_lws(value).trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

/// The content of the first part whose Content-Type is `application/sdp`.
fn sdp_part<'b>(body: &'b [u8], boundary: &str) -> Option<&'b [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut rest = body;
    // Each part runs from after a delimiter line to the CRLF before the next delimiter.
    let mut start = find(rest, delimiter)? + delimiter.len();
    loop {
        rest = &rest[start..];
        if rest.starts_with(b"--") {
            return None; // The closing delimiter.
        }
        let end = find(rest, delimiter)?;
        let part = strip_line_end(&rest[..end]);
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        if let Some(content) = sdp_content(part) {
            return Some(content);
        }
        start = end + delimiter.len();
    }
}

/// A part's content when its headers say `application/sdp` (no headers: text/plain).
fn sdp_content(part: &[u8]) -> Option<&[u8]> {
    let (headers, content) = match find(part, b"\r\n\r\n") {
        Some(at) => (&part[..at], &part[at + 4..]),
        None => {
            let at = find(part, b"\n\n")?;
            (&part[..at], &part[at + 2..])
        }
    };
    let headers = String::from_utf8_lossy(headers);
    let is_sdp = headers.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            let media = value.split(';').next().unwrap_or_default();
            trim_lws(name).eq_ignore_ascii_case("Content-Type")
                && trim_lws(media).eq_ignore_ascii_case("application/sdp")
        })
    });
    is_sdp.then_some(content)
}

fn strip_line_end(part: &[u8]) -> &[u8] {
    part.strip_suffix(b"\r\n")
        .or_else(|| part.strip_suffix(b"\n"))
        .unwrap_or(part)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::message::{Limits, Message, parse_message};

    use super::*;

    const SIP_T: &str = "INVITE sip:+15550100@192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKmp1\r\n\
From: <sip:+15551234@203.0.113.5>;tag=a\r\nTo: <sip:+15550100@192.0.2.10>\r\n\
Call-ID: mp1@203.0.113.5\r\nCSeq: 1 INVITE\r\nContact: <sip:203.0.113.5>\r\n\
Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"\r\n\r\n\
--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\
\r\n--unique-boundary-1\r\nContent-Type: application/isup;version=itu-t92+\r\n\
Content-Disposition: signal;handling=optional\r\n\r\n\x01\x00\x49\x00\r\n\
--unique-boundary-1--\r\n";

    #[test]
    fn finds_the_sdp_part_of_a_sip_t_invite() {
        let Message::Request(invite) = parse_message(SIP_T.as_bytes(), &Limits::default()).unwrap()
        else {
            panic!("a request")
        };
        let sdp = sdp_body(&invite.head, &invite.body).unwrap();
        assert!(
            sdp.starts_with(b"v=0\r\n"),
            "{}",
            String::from_utf8_lossy(sdp)
        );
        assert!(
            sdp.ends_with(b"m=audio 4000 RTP/AVP 0\r\n"),
            "{}",
            String::from_utf8_lossy(sdp)
        );
    }

    #[test]
    fn bodies_without_sdp_have_none() {
        let no_sdp = SIP_T.replace("application/sdp", "text/plain");
        let Message::Request(invite) =
            parse_message(no_sdp.as_bytes(), &Limits::default()).unwrap()
        else {
            panic!("a request")
        };
        assert_eq!(sdp_body(&invite.head, &invite.body), None);
        for body in [
            "",
            "--b",
            "--b\r\n",
            "--b\r\nContent-Type: application/sdp\r\n\r\nv=0",
        ] {
            assert_eq!(sdp_part(body.as_bytes(), "b"), None, "{body:?}");
        }
    }
}
