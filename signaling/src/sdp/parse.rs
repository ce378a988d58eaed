//! Line parser for SDP bodies (RFC 8866 §5, §9).
//!
//! Works on bytes: only the lines we interpret must be UTF-8, so a Latin-1 `s=` or `i=`
//! (allowed with `a=charset`, RFC 8866 §6.10) does not sink a call. Lines end in CRLF or a
//! bare LF. Blank lines are skipped and the order of session-level lines is not enforced;
//! a line we interpret that breaks the grammar is an error naming its line number.

use super::description::{
    ConnectionAddress, Fmtp, MediaDescription, Origin, RtcpAddress, RtpMap, SessionDescription,
};
use super::types::{MediaDirection, PayloadType};
use crate::Error;

/// Bodies over this are refused before reading a line: a SIP INVITE over UDP cannot carry
/// more, and an audio offer with a video section is about 1 KiB.
pub const MAX_BODY: usize = 64 * 1024;
/// Media sections per body; a SIP call has one or two, a WebRTC bundle a few dozen.
pub const MAX_MEDIA: usize = 64;
/// Formats, `a=rtpmap` or `a=fmtp` lines per media section: there are 128 RTP payload types.
pub const MAX_FORMATS: usize = 128;

/// Parses an SDP body. Never panics; anything malformed we rely on is an error.
pub fn parse(bytes: &[u8]) -> Result<SessionDescription, Error> {
    if bytes.len() > MAX_BODY {
        return Err(Error::SdpTooLarge {
            len: bytes.len(),
            max: MAX_BODY,
        });
    }
    let mut parser = Parser::default();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        parser.line(index + 1, raw)?;
    }
    parser.finish()
}

#[derive(Default)]
struct Parser {
    saw_version: bool,
    origin: Option<Origin>,
    connection: Option<ConnectionAddress>,
    direction: Option<MediaDirection>,
    media: Vec<MediaDescription>,
}

impl Parser {
    fn line(&mut self, line: usize, raw: &[u8]) -> Result<(), Error> {
        let (kind, value) = match raw {
            [kind, b'=', value @ ..] => (*kind, value),
            _ => return Err(malformed(line, "line that is not <type>=<value>")),
        };
        // RFC 8866 §5: "v=0" comes first; anything else is not SDP at all.
        if !self.saw_version {
            if kind == b'v' && value.trim_ascii() == b"0" {
                self.saw_version = true;
                return Ok(());
            }
            return Err(malformed(line, "first line (not v=0)"));
        }
        match kind {
            b'o' if self.media.is_empty() => {
                self.origin = Some(origin(line, text(line, value, "o= line")?)?);
            }
            b'o' => return Err(malformed(line, "o= line inside a media section")),
            b'c' => {
                let address = connection(line, text(line, value, "c= line")?, "c= line")?;
                match self.media.last_mut() {
                    Some(media) => media.connection = Some(address),
                    None => self.connection = Some(address),
                }
            }
            b'm' => {
                if self.media.len() == MAX_MEDIA {
                    return Err(Error::SdpTooMany {
                        what: "media sections",
                        max: MAX_MEDIA,
                    });
                }
                self.media.push(media(line, text(line, value, "m= line")?)?);
            }
            b'a' => self.attribute(line, value)?,
            // s=, t=, b=, i=, u=, e=, p=, r=, z=, k= and anything newer: irrelevant here.
            _ => {}
        }
        Ok(())
    }

    fn attribute(&mut self, line: usize, value: &[u8]) -> Result<(), Error> {
        let (name, rest) = match value.iter().position(|b| *b == b':') {
            Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
            None => (value.trim_ascii_end(), None),
        };
        let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
        if let Some(direction) = direction(name) {
            match self.media.last_mut() {
                Some(media) => media.direction = Some(direction),
                None => self.direction = Some(direction),
            }
            return Ok(());
        }
        // The remaining attributes we know are media-level only (RFC 8866 §6).
        let (Some(media), Some(rest)) = (self.media.last_mut(), rest) else {
            return Ok(());
        };
        if is("crypto") {
            media.crypto = true;
        } else if is("rtpmap") {
            let map = rtpmap(line, text(line, rest, "a=rtpmap")?)?;
            push_limited(&mut media.rtpmaps, map)?;
        } else if is("fmtp") {
            if let Some(fmtp) = fmtp(line, text(line, rest, "a=fmtp")?)? {
                push_limited(&mut media.fmtps, fmtp)?;
            }
        } else if is("ptime") {
            media.ptime = Some(millis(line, text(line, rest, "a=ptime")?, "a=ptime")?);
        } else if is("maxptime") {
            media.maxptime = Some(millis(line, text(line, rest, "a=maxptime")?, "a=maxptime")?);
        } else if is("rtcp") {
            media.rtcp = Some(rtcp(line, text(line, rest, "a=rtcp")?)?);
        }
        Ok(())
    }

    fn finish(self) -> Result<SessionDescription, Error> {
        if !self.saw_version {
            return Err(Error::SdpMissingLine { line_type: "v=" });
        }
        let origin = self
            .origin
            .ok_or(Error::SdpMissingLine { line_type: "o=" })?;
        if self.media.is_empty() {
            return Err(Error::SdpMissingLine { line_type: "m=" });
        }
        Ok(SessionDescription {
            origin,
            connection: self.connection,
            direction: self.direction,
            media: self.media,
        })
    }
}

fn malformed(line: usize, what: &'static str) -> Error {
    Error::SdpMalformed { line, what }
}

fn text<'a>(line: usize, value: &'a [u8], what: &'static str) -> Result<&'a str, Error> {
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| malformed(line, what))
}

fn push_limited<T>(list: &mut Vec<T>, item: T) -> Result<(), Error> {
    if list.len() == MAX_FORMATS {
        return Err(Error::SdpTooMany {
            what: "rtpmap or fmtp attributes in a media section",
            max: MAX_FORMATS,
        });
    }
    list.push(item);
    Ok(())
}

fn direction(name: &[u8]) -> Option<MediaDirection> {
    // RFC 3264 §5.1 (RFC 8866 §6.7): the author's own point of view.
    [
        ("sendrecv", MediaDirection::SendRecv),
        ("sendonly", MediaDirection::SendOnly),
        ("recvonly", MediaDirection::RecvOnly),
        ("inactive", MediaDirection::Inactive),
    ]
    .into_iter()
    .find(|(known, _)| name.eq_ignore_ascii_case(known.as_bytes()))
    .map(|(_, direction)| direction)
}

/// `o=<username> <sess-id> <sess-version> IN <addrtype> <address>` (RFC 8866 §5.2).
fn origin(line: usize, value: &str) -> Result<Origin, Error> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, id, version, nettype, addrtype, address] = fields[..] else {
        return Err(malformed(line, "o= line (not six fields)"));
    };
    let number =
        |field: &str| digits::<u64>(field).ok_or(malformed(line, "o= session id or version"));
    Ok(Origin {
        username: username.to_owned(),
        session_id: number(id)?,
        session_version: number(version)?,
        address: address_of(line, [nettype, addrtype, address], "o= address")?,
    })
}

/// `c=IN <addrtype> <address>[/<ttl>][/<count>]` (RFC 8866 §5.7).
fn connection(line: usize, value: &str, what: &'static str) -> Result<ConnectionAddress, Error> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [nettype, addrtype, address] = fields[..] else {
        return Err(malformed(line, what));
    };
    address_of(line, [nettype, addrtype, address], what)
}

fn address_of(
    line: usize,
    [nettype, addrtype, address]: [&str; 3],
    what: &'static str,
) -> Result<ConnectionAddress, Error> {
    let is_ip = addrtype.eq_ignore_ascii_case("IP4") || addrtype.eq_ignore_ascii_case("IP6");
    if !nettype.eq_ignore_ascii_case("IN") || !is_ip {
        return Err(malformed(line, what));
    }
    // Multicast TTL and address count follow a slash; a unicast call never has them.
    let address = address.split('/').next().unwrap_or_default();
    if let Ok(ip) = address.parse() {
        return Ok(ConnectionAddress::Ip(ip));
    }
    let hostname_chars = address
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !address.is_empty() && hostname_chars && address.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Ok(ConnectionAddress::Host(address.to_owned()));
    }
    Err(malformed(line, what))
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...` (RFC 8866 §5.14).
fn media(line: usize, value: &str) -> Result<MediaDescription, Error> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed(line, "m= line (too few fields)"));
    };
    let (port, count) = port
        .split_once('/')
        .map_or((port, None), |(p, c)| (p, Some(c)));
    let port = digits::<u16>(port).ok_or(malformed(line, "m= port"))?;
    if count.is_some_and(|count| digits::<u16>(count).is_none()) {
        return Err(malformed(line, "m= port count"));
    }
    let mut formats = Vec::new();
    for format in fields {
        if formats.len() == MAX_FORMATS {
            return Err(Error::SdpTooMany {
                what: "formats in a media section",
                max: MAX_FORMATS,
            });
        }
        formats.push(format.to_owned());
    }
    if formats.is_empty() {
        return Err(malformed(line, "m= line (no format)"));
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        proto: proto.to_owned(),
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        maxptime: None,
        direction: None,
        rtcp: None,
        crypto: false,
    })
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 8866 §6.6).
fn rtpmap(line: usize, value: &str) -> Result<RtpMap, Error> {
    let bad = || malformed(line, "a=rtpmap");
    let (pt, encoding) = value.split_once(char::is_whitespace).ok_or_else(bad)?;
    let mut parts = encoding.trim().split('/');
    let (Some(name), Some(clock)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    let channels = parts
        .next()
        .map(|c| digits::<u16>(c).ok_or_else(bad))
        .transpose()?;
    if name.is_empty() || parts.next().is_some() {
        return Err(bad());
    }
    Ok(RtpMap {
        payload_type: payload_type(pt).ok_or_else(bad)?,
        encoding: name.to_owned(),
        clock_rate: digits::<u32>(clock).filter(|c| *c > 0).ok_or_else(bad)?,
        channels,
    })
}

/// `a=fmtp:<format> <parameters>` (RFC 8866 §6.15); `None` for a non-RTP format.
fn fmtp(line: usize, value: &str) -> Result<Option<Fmtp>, Error> {
    let (format, parameters) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if format.is_empty() {
        return Err(malformed(line, "a=fmtp"));
    }
    Ok(payload_type(format).map(|payload_type| Fmtp {
        payload_type,
        parameters: parameters.trim().to_owned(),
    }))
}

/// `a=ptime` / `a=maxptime` in milliseconds. RFC 8866 allows a decimal fraction; we keep
/// the whole milliseconds.
fn millis(line: usize, value: &str, what: &'static str) -> Result<u32, Error> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(line, what));
    }
    digits::<u32>(whole).ok_or(malformed(line, what))
}

/// `a=rtcp:<port> [IN <addrtype> <address>]` (RFC 3605 §2.1).
fn rtcp(line: usize, value: &str) -> Result<RtcpAddress, Error> {
    let (port, address) = value
        .split_once(char::is_whitespace)
        .map_or((value, None), |(p, a)| (p, Some(a)));
    Ok(RtcpAddress {
        port: digits::<u16>(port).ok_or(malformed(line, "a=rtcp port"))?,
        address: address
            .map(|a| connection(line, a, "a=rtcp address"))
            .transpose()?,
    })
}

fn payload_type(field: &str) -> Option<PayloadType> {
    digits::<u8>(field).filter(|pt| *pt < 128).map(PayloadType)
}

/// A number made of ASCII digits only (`str::parse` would also take a leading `+`).
fn digits<T: std::str::FromStr>(field: &str) -> Option<T> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
