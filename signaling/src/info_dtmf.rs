//! DTMF carried in SIP INFO bodies: the "legacy INFO usage" of RFC 6086 (first defined by
//! RFC 2976), as PBXs and gateways send it when RFC 4733 telephone-events were not
//! negotiated or are configured off.
//!
//! Two body types are in use, and neither has an RFC:
//!
//! - `application/dtmf-relay`: the format Cisco gateways introduced, also sent by Avaya,
//!   Asterisk, FreeSWITCH and most SBCs. No RFC describes it; this follows what those
//!   send and accept. Lines of `name=value`, e.g. `Signal=5\r\nDuration=160\r\n`: `Signal`
//!   is the key, `Duration` its length in milliseconds. Names are matched
//!   case-insensitively and whitespace around `=` is allowed (some gateways send
//!   `Signal= 5`); lines may end in CRLF, LF or CR, and lines we do not know are ignored.
//! - `application/dtmf`: the body is the key alone (`5`, `#`); some UAs send the RFC 4733
//!   event number instead (`10` for `*`, `11` for `#`).
//!
//! In both, a key may be given as its RFC 4733 §3.2 event code 0-15 (Asterisk and
//! FreeSWITCH read numbers this way too). Anything else (hook flash `!` or `16`, `55`, `X`,
//! nothing) is refused: the bridge answers the INFO with [`Error::info_dtmf_rejection`] and
//! sends no key to the room.
//!
//! The body comes straight off the network: [`parse_info_dtmf`] never panics, and is
//! lenient where leniency cannot change which key was pressed (case, spacing, line ends,
//! extra lines, an unreadable `Duration`) and strict where it could (an unknown or repeated
//! `Signal`).

use crate::Error;
use crate::message::grammar::trim_lws;

/// The largest body parsed. A key press takes about 25 bytes; 1 KiB leaves room for the
/// extra lines some PBXs add, and refuses anything that is not a key press.
pub const MAX_BODY: usize = 1024;

/// The body types understood, for the `Accept` header a 415 must carry (RFC 3261 §21.4.13).
pub const ACCEPTED_TYPES: &str = "application/dtmf-relay, application/dtmf";

/// One key press read from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDtmf {
    /// `0`-`9`, `*`, `#` or `A`-`D` (upper case whatever the peer sent).
    pub key: char,
    /// The key's RFC 4733 §3.2 event code: `0`-`9` → 0-9, `*` → 10, `#` → 11, `A`-`D` →
    /// 12-15.
    pub code: u8,
    /// The `Duration=` of an `application/dtmf-relay` body, in milliseconds; `None` when
    /// absent or unreadable, and always for `application/dtmf`.
    pub duration_ms: Option<u32>,
}

/// The two body types, told apart by [`body_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyType {
    DtmfRelay,
    Dtmf,
}

/// Reads the key press in an INFO body.
///
/// `content_type` is the request's `Content-Type` value, parameters allowed
/// (`application/dtmf-relay;charset=utf-8`); `None` when the header is absent.
pub fn parse_info_dtmf(content_type: Option<&str>, body: &[u8]) -> Result<InfoDtmf, Error> {
    let body_type = content_type
        .and_then(body_type)
        .ok_or(Error::InfoDtmfContentType)?;
    if body.len() > MAX_BODY {
        return Err(Error::InfoDtmfTooLarge {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| Error::InfoDtmfNotUtf8)?;
    match body_type {
        BodyType::DtmfRelay => parse_relay(text),
        // A `name=value` body labelled application/dtmf is read as dtmf-relay (the bridge
        // always did): a key alone never contains `=`, so nothing is misread.
        BodyType::Dtmf if text.contains('=') => parse_relay(text),
        BodyType::Dtmf => {
            let signal = trim_lws(text);
            if signal.is_empty() {
                return Err(Error::InfoDtmfNoSignal);
            }
            key_press(signal, None)
        }
    }
}

/// Which DTMF body type a `Content-Type` value names. Media types compare
/// case-insensitively (RFC 3261 §7.3.1), with LWS allowed around `/` and `;`
/// (RFC 3261 §25.1 `SLASH`, `SEMI`); parameters are ignored.
fn body_type(content_type: &str) -> Option<BodyType> {
    let media_range = content_type.split(';').next().unwrap_or_default();
    let (ty, subtype) = media_range.split_once('/')?;
    if !trim_lws(ty).eq_ignore_ascii_case("application") {
        return None;
    }
    let subtype = trim_lws(subtype);
    if subtype.eq_ignore_ascii_case("dtmf-relay") {
        Some(BodyType::DtmfRelay)
    } else if subtype.eq_ignore_ascii_case("dtmf") {
        Some(BodyType::Dtmf)
    } else {
        None
    }
}

/// `application/dtmf-relay`: one `Signal=` line, an optional `Duration=` line, anything else
/// ignored (some PBXs add lines of their own).
fn parse_relay(text: &str) -> Result<InfoDtmf, Error> {
    let mut signal = None;
    let mut duration = None;
    for line in text.split(['\r', '\n']) {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (trim_lws(name), trim_lws(value));
        if name.eq_ignore_ascii_case("Signal") {
            if signal.replace(value).is_some() {
                return Err(Error::InfoDtmfRepeatedSignal);
            }
        } else if name.eq_ignore_ascii_case("Duration") && duration.is_none() {
            duration = Some(value);
        }
    }
    let signal = signal.ok_or(Error::InfoDtmfNoSignal)?;
    key_press(signal, duration.and_then(parse_duration))
}

/// The DTMF keys by RFC 4733 §3.2 event code: 0-15.
const EVENT_KEYS: &[u8; 16] = b"0123456789*#ABCD";

/// The key of an event code, if it is a DTMF key.
fn key_for_code(code: u8) -> Option<char> {
    EVENT_KEYS.get(usize::from(code)).map(|&k| char::from(k))
}

/// The event code of a key (`a`-`d` accepted for `A`-`D`).
fn code_for_key(key: char) -> Option<u8> {
    let key = key.to_ascii_uppercase();
    EVENT_KEYS
        .iter()
        .position(|&k| char::from(k) == key)
        .and_then(|i| u8::try_from(i).ok())
}

/// The key of a signal: one key character (`a`-`d` for `A`-`D`), or an RFC 4733 event code
/// 0-15 written without leading zeros.
fn key_press(signal: &str, duration_ms: Option<u32>) -> Result<InfoDtmf, Error> {
    let code = match signal.as_bytes() {
        [b] => code_for_key(char::from(*b)),
        [b'1', b @ b'0'..=b'5'] => Some(10 + (b - b'0')),
        _ => None,
    };
    match code.and_then(|code| Some((code, key_for_code(code)?))) {
        Some((code, key)) => Ok(InfoDtmf {
            key,
            code,
            duration_ms,
        }),
        None => Err(Error::InfoDtmfUnknownSignal(
            signal.chars().take(16).collect(),
        )),
    }
}

/// Milliseconds as decimal digits. Anything else (a sign, a unit, a fraction, more than a
/// u32) is `None`: the key stands without it.
fn parse_duration(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

impl Error {
    /// The status and reason phrase refusing an INFO whose DTMF body is at fault; `None` for
    /// errors that are not about INFO DTMF.
    ///
    /// | error | status |
    /// |---|---|
    /// | no or another Content-Type | 415 (send `Accept:` [`ACCEPTED_TYPES`] with it) |
    /// | body over [`MAX_BODY`] | 413 |
    /// | not UTF-8, no signal, repeated signal, unknown signal | 400 |
    ///
    /// The phrase is "`<standard phrase> - <why>`" like [`Error::sdp_rejection`]'s.
    pub fn info_dtmf_rejection(&self) -> Option<(u16, &'static str)> {
        Some(match self {
            Error::InfoDtmfContentType => (415, "Unsupported Media Type - not a DTMF body"),
            Error::InfoDtmfTooLarge { .. } => {
                (413, "Request Entity Too Large - DTMF body too large")
            }
            Error::InfoDtmfNotUtf8 => (400, "Bad Request - DTMF body not UTF-8"),
            Error::InfoDtmfNoSignal => (400, "Bad Request - no DTMF signal"),
            Error::InfoDtmfRepeatedSignal => (400, "Bad Request - more than one DTMF signal"),
            Error::InfoDtmfUnknownSignal(_) => (400, "Bad Request - unknown DTMF signal"),
            _ => return None,
        })
    }
}

#[cfg(test)]
#[path = "info_dtmf_tests.rs"]
mod tests;
