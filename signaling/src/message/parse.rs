//! Bytes → [`Message`], with the checks RFC 4475 expects and ezk-sip-types does not make:
//! exact start-line spacing, required and single-value headers, CSeq method vs request
//! method, Content-Length against the body, scalar ranges, display-name quoting.

use bytes::Bytes;
use ezk_sip_types::msg::PullParser;

use super::framing::{Limits, skip_leading_crlf, split_head};
use super::grammar::{is_lws, is_token, split_commas, trim_lws};
use super::headers::{Headers, canonical_name};
use super::name_addr::NameAddr;
use super::uri::Uri;
use super::via::Via;
use super::{CSeq, CallId, Head, Message, Method, Request, Response};
use crate::Error;

/// A message we could not accept, with what is needed to answer it if it was a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub error: Error,
    /// `None` for responses and for requests without a single Via line to answer to.
    /// Boxed: the error path should not make every parse result large.
    pub reply: Option<Box<ReplyContext>>,
}

/// The header lines a response copies from its request (RFC 3261 §8.2.6.2), as received,
/// for answering a request that failed to parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyContext {
    pub via: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub call_id: Option<String>,
    pub cseq: Option<String>,
}

/// Headers that must appear at most once (RFC 3261 §7.3.1, RFC 4475 §3.3.8).
const SINGLE_VALUE: [&str; 7] = [
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

/// Parses one message: a datagram, or one message a [`super::StreamFramer`] cut from a
/// stream. The body is cut at Content-Length; without one it is the rest (RFC 3261 §18.3).
pub fn parse_message(input: &[u8], limits: &Limits) -> Result<Message, Malformed> {
    let unanswerable = |error| Malformed { error, reply: None };
    let input = skip_leading_crlf(input);
    if input.len() > limits.max_message {
        return Err(unanswerable(Error::MessageTooLarge(limits.max_message)));
    }
    let (head, body) = match split_head(input, 0) {
        Some(head_len) => input.split_at(head_len),
        None => return Err(unanswerable(Error::UnterminatedHead)),
    };
    // Header text is UTF-8 by RFC 3261 §7.3.1 (TEXT-UTF8); a stray Latin-1 display name from
    // an old PBX should not cost the call, so invalid bytes become U+FFFD.
    let head = String::from_utf8_lossy(head);
    let lines = split_lines(&head, limits).map_err(unanswerable)?;
    let Some((start, header_lines)) = lines.split_first() else {
        return Err(unanswerable(Error::UnterminatedHead));
    };

    let mut headers = Headers::new();
    let mut reply = ReplyContext::default();
    let mut line_error = None;
    for line in header_lines {
        match split_header_line(line) {
            Some((name, value)) => {
                match canonical_name(name) {
                    "Via" => reply.via.push(value.to_owned()),
                    "From" => reply.from = Some(value.to_owned()),
                    "To" => reply.to = Some(value.to_owned()),
                    "Call-ID" => reply.call_id = Some(value.to_owned()),
                    "CSeq" => reply.cseq = Some(value.to_owned()),
                    _ => {}
                }
                headers.push(name, value);
            }
            None => line_error = line_error.or(Some(Error::HeaderLine)),
        }
    }
    let is_response = start
        .as_bytes()
        .get(..4)
        .is_some_and(|v| v.eq_ignore_ascii_case(b"SIP/"));
    let reply = (!is_response && !reply.via.is_empty()).then(|| Box::new(reply));
    let fail = |error| Malformed {
        error,
        reply: reply.clone(),
    };
    if let Some(error) = line_error {
        return Err(fail(error));
    }

    if is_response {
        let (code, reason) = parse_status_line(start).map_err(fail)?;
        let (head, length) = parse_head(headers).map_err(fail)?;
        let body = take_body(length, body).map_err(fail)?;
        return Ok(Message::Response(Response {
            code,
            reason,
            head,
            body,
        }));
    }
    let (method, uri) = parse_request_line(start).map_err(fail)?;
    let (head, length) = parse_head(headers).map_err(fail)?;
    if head.cseq.method != method {
        return Err(fail(Error::CSeqMethodMismatch));
    }
    let body = take_body(length, body).map_err(fail)?;
    Ok(Message::Request(Request {
        method,
        uri,
        head,
        body,
    }))
}

/// Unfolded header lines (ezk-sip-types joins continuation lines), with the limits applied.
fn split_lines<'a>(head: &'a str, limits: &Limits) -> Result<Vec<&'a str>, Error> {
    let mut lines = Vec::new();
    for line in PullParser::new(head.as_bytes(), 0) {
        let line = line.map_err(|_| Error::UnterminatedHead)?;
        if line.len() > limits.max_line {
            return Err(Error::LineTooLong(limits.max_line));
        }
        if lines.len() > limits.max_headers {
            return Err(Error::TooManyHeaders(limits.max_headers));
        }
        // PullParser yields slices of `head` split at ASCII bytes, so they are valid UTF-8.
        lines.push(std::str::from_utf8(line).map_err(|_| Error::HeaderLine)?);
    }
    Ok(lines)
}

/// `name HCOLON value`: whitespace may precede the colon (RFC 3261 §25.1 HCOLON).
fn split_header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end_matches([' ', '\t']);
    is_token(name).then(|| (name, trim_lws(value)))
}

/// `Method SP Request-URI SP SIP-Version`, single spaces exactly (RFC 3261 §7.1; RFC 4475
/// §3.1.2.8–3.1.2.10 reject extra or trailing whitespace).
fn parse_request_line(line: &str) -> Result<(Method, Uri), Error> {
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(Error::StartLine(if parts.len() > 3 {
            "extra whitespace in the request line"
        } else {
            "expected method, Request-URI and version"
        }));
    };
    let method = Method::parse(method).ok_or(Error::StartLine("invalid method"))?;
    check_version(version)?;
    let uri =
        Uri::parse(uri, "Request-URI").map_err(|_| Error::StartLine("invalid Request-URI"))?;
    if uri.as_sip().is_some_and(|sip| sip.has_headers) {
        // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table; RFC 4475 §3.1.2.11).
        return Err(Error::StartLine("headers in Request-URI"));
    }
    Ok((method, uri))
}

/// `SIP-Version SP Status-Code SP Reason-Phrase`; the reason is kept as received.
fn parse_status_line(line: &str) -> Result<(u16, String), Error> {
    let (version, rest) = line
        .split_once(' ')
        .ok_or(Error::StartLine("no status code"))?;
    check_version(version)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let valid = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
    let code: u16 = code
        .parse()
        .ok()
        .filter(|c| valid && (100..700).contains(c))
        .ok_or(Error::StartLine(
            "status code is not three digits from 100 to 699",
        ))?;
    Ok((code, reason.trim_end_matches(is_lws).to_owned()))
}

fn check_version(version: &str) -> Result<(), Error> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let (protocol, number) = version
        .split_once('/')
        .ok_or(Error::StartLine("no SIP version"))?;
    let numeric = number.split('.').count() == 2
        && number
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if protocol.eq_ignore_ascii_case("SIP") && numeric {
        return Err(Error::Version(number.to_owned()));
    }
    Err(Error::StartLine("no SIP version"))
}

/// Types and checks the headers every message needs; the rest stay text. Also returns the
/// Content-Length, which the printer regenerates rather than keeping.
fn parse_head(mut headers: Headers) -> Result<(Head, Option<usize>), Error> {
    for name in SINGLE_VALUE {
        if headers.all(name).nth(1).is_some() {
            return Err(Error::DuplicateHeader(name));
        }
    }
    let mut via = Vec::new();
    for line in headers.all("Via") {
        let values = split_commas(line).ok_or(Error::InvalidHeader {
            header: "Via",
            why: "unterminated quoted string",
        })?;
        for value in values {
            via.push(Via::parse(value)?);
        }
    }
    if via.is_empty() {
        return Err(Error::MissingHeader("Via"));
    }
    let required = |name| headers.get(name).ok_or(Error::MissingHeader(name));
    let call_id = required("Call-ID")?;
    let from = NameAddr::parse(required("From")?, "From")?;
    let to = NameAddr::parse(required("To")?, "To")?;
    if call_id.is_empty() || call_id.contains(is_lws) {
        return Err(Error::InvalidHeader {
            header: "Call-ID",
            why: "empty or with whitespace",
        });
    }
    let call_id = CallId(call_id.to_owned());
    let cseq = parse_cseq(required("CSeq")?)?;
    let max_forwards = headers
        .get("Max-Forwards")
        .map(|value| parse_number(value, "Max-Forwards", u8::MAX as u64).map(|n| n as u8))
        .transpose()?;
    let content_length = headers
        .get("Content-Length")
        .map(|value| parse_number(value, "Content-Length", u32::MAX as u64).map(|n| n as usize))
        .transpose()?;
    let content_type = headers
        .get("Content-Type")
        .map(parse_content_type)
        .transpose()?;
    if let Some(date) = headers.get("Date") {
        // rfc1123-date is always GMT (RFC 3261 §20.17; RFC 4475 §3.1.2.12).
        if !date.ends_with(" GMT") {
            return Err(Error::InvalidHeader {
                header: "Date",
                why: "not a GMT date",
            });
        }
    }
    let mut contact = Vec::new();
    let star_contact = headers.all("Contact").any(|line| line == "*");
    for line in headers.all("Contact") {
        if line == "*" {
            continue; // Only meaningful in REGISTER, which we do not serve; kept as text.
        }
        let values = split_commas(line).ok_or(Error::InvalidHeader {
            header: "Contact",
            why: "unterminated quoted string",
        })?;
        for value in values {
            contact.push(NameAddr::parse(value, "Contact")?);
        }
    }
    let typed = [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Max-Forwards",
        "Content-Type",
    ];
    for name in typed.into_iter().chain(["Content-Length"]) {
        headers.remove(name);
    }
    if !star_contact {
        headers.remove("Contact");
    }
    let head = Head {
        via,
        from,
        to,
        call_id,
        cseq,
        max_forwards,
        contact,
        content_type,
        other: headers,
    };
    Ok((head, content_length))
}

fn parse_cseq(value: &str) -> Result<CSeq, Error> {
    let bad = |why| Error::InvalidHeader {
        header: "CSeq",
        why,
    };
    let (seq, method) = value
        .split_once(is_lws)
        .ok_or(bad("expected number and method"))?;
    let seq = parse_number(seq, "CSeq", u32::MAX as u64).map_err(|_| bad("number above 2^32-1"))?;
    let method = Method::parse(trim_lws(method)).ok_or(bad("invalid method"))?;
    Ok(CSeq {
        seq: seq as u32,
        method,
    })
}

/// `1*DIGIT` no larger than `max` (RFC 4475 §3.1.2.4 overflows are errors, not wraps).
fn parse_number(value: &str, header: &'static str, max: u64) -> Result<u64, Error> {
    let digits = trim_lws(value);
    let bad = |why| Error::InvalidHeader { header, why };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return Err(bad("number too large"));
    }
    let number = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().map_err(|_| bad("not a number"))?
    };
    if number > max {
        return Err(bad("number too large"));
    }
    Ok(number)
}

fn parse_content_type(value: &str) -> Result<String, Error> {
    let media = value.split(';').next().unwrap_or_default();
    let valid = media
        .split_once('/')
        .is_some_and(|(kind, sub)| is_token(trim_lws(kind)) && is_token(trim_lws(sub)));
    if !valid {
        return Err(Error::InvalidHeader {
            header: "Content-Type",
            why: "not a media type",
        });
    }
    Ok(value.to_ascii_lowercase())
}

/// The body per Content-Length: extra bytes are discarded (a second message in one
/// datagram, RFC 4475 §3.1.1.13), too few is an error (§3.1.2.2).
fn take_body(declared: Option<usize>, rest: &[u8]) -> Result<Bytes, Error> {
    let declared = declared.unwrap_or(rest.len());
    if declared > rest.len() {
        return Err(Error::BodyTruncated {
            declared,
            available: rest.len(),
        });
    }
    Ok(Bytes::copy_from_slice(&rest[..declared]))
}
