//! `message/sipfrag` bodies (RFC 3420) as carried by the NOTIFYs of a REFER (RFC 3515
//! §2.4.5): only the status line matters, the status of the transferee's INVITE.
//!
//! The body comes straight off the network, so [`parse_status`] never panics and is lenient
//! where leniency cannot change the meaning (blank lines and spaces around the line, extra
//! LWS between fields, LF without CR, a missing reason phrase, bytes that are not UTF-8)
//! and strict where it could (the version, a three-digit code within 100–699).

use crate::Error;
use crate::message::grammar::trim_lws;
use crate::outcome::SipStatus;

/// Reads the status line at the start of a sipfrag body.
///
/// Anything after the first line (header lines, a body, garbage) is ignored: RFC 3515
/// §2.4.5 needs only the status line, and a notifier may send more of the message.
pub fn parse_status(body: &[u8]) -> Result<SipStatus, Error> {
    // RFC 3261 §7.5 says to ignore CRLFs before a start line; stray spaces get the same.
    let body = trim_start(body, |b| is_wsp(b) || b == b'\r' || b == b'\n');
    if body.is_empty() {
        return Err(Error::SipfragEmpty);
    }
    // A bare LF or CR ends the line as well as CRLF: the reason phrase may contain neither
    // (RFC 3261 §25.1), so this cannot cut a valid phrase short.
    let line_len = body
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(body.len());
    let (line, _rest) = body.split_at(line_len);

    let after_version = strip_version(line).ok_or(Error::SipfragNotStatusLine)?;
    // The ABNF has exactly one SP between fields; accept any run of SP/HTAB.
    let after_sp = trim_start(after_version, is_wsp);
    if after_sp.len() == after_version.len() && !after_version.is_empty() {
        // "SIP/2.0x ...": the version token goes on, so this is not a SIP version.
        return Err(Error::SipfragNotStatusLine);
    }

    let digits = after_sp.iter().take_while(|b| b.is_ascii_digit()).count();
    let (code_bytes, after_code) = after_sp.split_at(digits);
    let code = match code_bytes {
        [a, b, c] => 100 * digit(*a) + 10 * digit(*b) + digit(*c),
        _ => return Err(Error::SipfragStatusCode),
    };
    // "200OK" is not a code followed by a phrase.
    if after_code.first().is_some_and(|&b| !is_wsp(b)) {
        return Err(Error::SipfragStatusCode);
    }
    if !(100..=699).contains(&code) {
        return Err(Error::SipfragStatusRange(code));
    }

    // The phrase is kept as sent, inner spacing included; only the separator before it and
    // trailing spaces go. Not UTF-8 (Latin-1 from an old PBX): keep what can be read.
    let reason = trim_end(trim_start(after_code, is_wsp), is_wsp);
    Ok(SipStatus::new(code, String::from_utf8_lossy(reason)))
}

/// Whether a `Content-Type` value names `message/sipfrag` (RFC 3420 §4), whatever the case
/// (RFC 3261 §7.3.1: media types compare case-insensitively), with LWS around the `/` and
/// `;` (RFC 3261 §25.1 `SLASH`, `SEMI`) and any parameters such as `version=2.0`.
pub fn is_sipfrag(content_type: &str) -> bool {
    let media_range = content_type.split(';').next().unwrap_or_default();
    let Some((ty, subtype)) = media_range.split_once('/') else {
        return false;
    };
    trim_lws(ty).eq_ignore_ascii_case("message")
        && trim_lws(subtype).eq_ignore_ascii_case("sipfrag")
}

/// Strips `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` (RFC 3261 §25.1) from the start of
/// `line`. RFC 3261 §7.1 makes it case-insensitive ("implementations MUST send
/// upper-case", so receivers accept any). Any digits are accepted, as the ABNF does; a
/// request line (`REFER sip:… SIP/2.0`) never starts with a version, so it fails here.
fn strip_version(line: &[u8]) -> Option<&[u8]> {
    let (name, rest) = line.split_at_checked(4)?;
    if !name.eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    let rest = strip_digits(rest)?;
    let rest = rest.strip_prefix(b".")?;
    strip_digits(rest)
}

/// Strips one or more ASCII digits.
fn strip_digits(s: &[u8]) -> Option<&[u8]> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    (n > 0).then(|| s.split_at(n).1)
}

fn digit(b: u8) -> u16 {
    u16::from(b.wrapping_sub(b'0'))
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_start(s: &[u8], drop: impl Fn(u8) -> bool) -> &[u8] {
    let n = s.iter().take_while(|&&b| drop(b)).count();
    s.split_at(n).1
}

fn trim_end(s: &[u8], drop: impl Fn(u8) -> bool) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| drop(b)).count();
    s.split_at(s.len() - n).0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(body: &[u8]) -> (u16, String) {
        let s = parse_status(body).unwrap();
        (s.code, s.reason)
    }

    #[test]
    fn status_lines_that_parse() {
        let cases: &[(&[u8], u16, &str)] = &[
            (b"SIP/2.0 200 OK", 200, "OK"),
            (b"SIP/2.0 100 Trying\r\n", 100, "Trying"),
            (b"SIP/2.0 180 Ringing\n", 180, "Ringing"),
            // Header lines (and a body) after the status line are ignored.
            (
                b"SIP/2.0 486 Busy Here\r\nContact: <sip:x@y>\r\nContent-Length: 0\r\n\r\n",
                486,
                "Busy Here",
            ),
            (
                b"SIP/2.0 603 Decline\nVia: SIP/2.0/UDP h\n\nv=0\n",
                603,
                "Decline",
            ),
            // Blank lines and whitespace before the status line.
            (b"\r\n\r\nSIP/2.0 200 OK\r\n", 200, "OK"),
            (b"\n \t SIP/2.0 200 OK", 200, "OK"),
            // LWS between fields; the phrase's own spacing is kept, trailing space dropped.
            (b"SIP/2.0   200 \t OK then \t\r\n", 200, "OK then"),
            (b"SIP/2.0\t180\tRinging", 180, "Ringing"),
            (b"SIP/2.0 486 Busy   Here", 486, "Busy   Here"),
            // No reason phrase.
            (b"SIP/2.0 200", 200, ""),
            (b"SIP/2.0 200 ", 200, ""),
            (b"SIP/2.0 200\r\n", 200, ""),
            (b"SIP/2.0 200 \r\nReason: x", 200, ""),
            // A lone CR ends the line too.
            (b"SIP/2.0 200 OK\rjunk", 200, "OK"),
            // Trailing garbage, binary included.
            (b"SIP/2.0 200 OK\r\n\x00\xff\xfe garbage \x01", 200, "OK"),
            // UTF-8 and not-UTF-8 phrases.
            (
                "SIP/2.0 603 Abgelehnt – später".as_bytes(),
                603,
                "Abgelehnt – später",
            ),
            (b"SIP/2.0 486 Occup\xe9\r\n", 486, "Occup\u{FFFD}"),
            // Version is case-insensitive (RFC 3261 §7.1), any digits per the ABNF.
            (b"sip/2.0 200 OK", 200, "OK"),
            (
                b"Sip/2.0 480 Temporarily Unavailable",
                480,
                "Temporarily Unavailable",
            ),
            (b"SIP/2.1 200 OK", 200, "OK"),
            (b"SIP/02.00 200 OK", 200, "OK"),
            // The range ends.
            (b"SIP/2.0 100 x", 100, "x"),
            (b"SIP/2.0 699 x", 699, "x"),
            // A phrase that starts with digits is still a phrase.
            (b"SIP/2.0 503 5 minutes", 503, "5 minutes"),
        ];
        for &(body, code, reason) in cases {
            assert_eq!(
                ok(body),
                (code, reason.to_string()),
                "{}",
                body.escape_ascii()
            );
        }
    }

    #[test]
    fn bodies_that_are_rejected() {
        use Error::*;
        let cases: &[(&[u8], Error)] = &[
            (b"", SipfragEmpty),
            (b"\r\n", SipfragEmpty),
            (b" \t\r\n\n", SipfragEmpty),
            // Request lines.
            (
                b"INVITE sip:bob@example.com SIP/2.0\r\n",
                SipfragNotStatusLine,
            ),
            (b"REFER sip:bob@example.com SIP/2.0", SipfragNotStatusLine),
            // Headers only, other protocols, broken versions.
            (b"Contact: <sip:x@y>\r\n", SipfragNotStatusLine),
            (b"HTTP/1.1 200 OK", SipfragNotStatusLine),
            (b"SIP2.0 200 OK", SipfragNotStatusLine),
            (b"SIP/ 200 OK", SipfragNotStatusLine),
            (b"SIP/2 200 OK", SipfragNotStatusLine),
            (b"SIP/2. 200 OK", SipfragNotStatusLine),
            (b"SIP/.0 200 OK", SipfragNotStatusLine),
            (b"SIP/2.0x 200 OK", SipfragNotStatusLine),
            (b"SIP", SipfragNotStatusLine),
            (b"\xff\xfe", SipfragNotStatusLine),
            // Codes that are not three digits.
            (b"SIP/2.0", SipfragStatusCode),
            (b"SIP/2.0 ", SipfragStatusCode),
            (b"SIP/2.0\r\n200 OK", SipfragStatusCode),
            (b"SIP/2.0 OK", SipfragStatusCode),
            (b"SIP/2.0 20 OK", SipfragStatusCode),
            (b"SIP/2.0 2000 OK", SipfragStatusCode),
            (b"SIP/2.0 200OK", SipfragStatusCode),
            (b"SIP/2.0 -20 OK", SipfragStatusCode),
            // Version "2.0200" is valid ABNF, so what is missing is the code.
            (b"SIP/2.0200 OK", SipfragStatusCode),
            (b"SIP/2.0 99999999999999999999 OK", SipfragStatusCode),
            // Three digits outside 100–699.
            (b"SIP/2.0 000 x", SipfragStatusRange(0)),
            (b"SIP/2.0 099 x", SipfragStatusRange(99)),
            (b"SIP/2.0 700 x", SipfragStatusRange(700)),
            (b"SIP/2.0 999", SipfragStatusRange(999)),
        ];
        for (body, err) in cases {
            assert_eq!(
                parse_status(body).as_ref(),
                Err(err),
                "{}",
                body.escape_ascii()
            );
        }
    }

    /// No input panics: every prefix of a real body, then a fixed pseudo-random stream
    /// biased towards the bytes the parser looks at.
    #[test]
    fn no_input_panics() {
        let real = b"\r\n SIP/2.0 180 Ringing\r\nContact: <sip:x@y>\r\n\r\n";
        for n in 0..=real.len() {
            let _ = parse_status(&real[..n]);
        }
        let alphabet = b"SIPsip/2.0 \t\r\n0123456789\xff\x00Ok";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut body = Vec::new();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            body.clear();
            let len = (state % 24) as usize;
            body.extend(
                (0..len).map(|i| alphabet[((state >> (i * 2)) as usize + i) % alphabet.len()]),
            );
            if let Ok(s) = parse_status(&body) {
                assert!((100..=699).contains(&s.code));
            }
        }
    }

    #[test]
    fn content_types() {
        let yes = [
            "message/sipfrag",
            "Message/SIPfrag",
            "MESSAGE/SIPFRAG",
            "message/sipfrag;version=2.0",
            "message/sipfrag ; version=2.0",
            "message/sipfrag;Version=\"2.0\";x=y",
            " message / sipfrag ",
            "message/sipfrag\r\n\t;version=2.0",
        ];
        for ct in yes {
            assert!(is_sipfrag(ct), "{ct:?}");
        }
        let no = [
            "",
            ";",
            "/",
            "message",
            "sipfrag",
            "message/sip",
            "message/sipfrag2",
            "message/sip frag",
            "message/sipfrag/2.0",
            "application/sdp",
            "text/plain;x=message/sipfrag",
            "multipart/mixed;boundary=message/sipfrag",
        ];
        for ct in no {
            assert!(!is_sipfrag(ct), "{ct:?}");
        }
    }
}
