//! Our side of the SIP leg's offer/answer: the state that outlives one exchange (RFC 3264
//! §8), and writing our SDP. Answering is in `answer.rs`, offering in `offer.rs`.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::codec::{CodecPreferences, Format, TELEPHONE_EVENTS, fmtp_value, rtpmap_value};
use super::negotiate::direction_attribute;
use super::types::{Codec, MediaDirection, PayloadType};

/// Our SDP for one call: `o=` identity and version, RTP address, codec preferences, hold
/// state, and the payload type numbers already bound in the session.
///
/// One per call, kept for the life of the dialog: the initial offer/answer and every
/// re-INVITE go through it, so the `o=` version only moves when our SDP does.
#[derive(Debug, Clone)]
pub struct LocalSession {
    pub(super) session_id: u64,
    pub(super) version: u64,
    pub(super) address: SocketAddr,
    pub(super) preferences: CodecPreferences,
    /// We put the phone on hold: we offer sendonly and never answer with more than that.
    pub(super) on_hold: bool,
    /// Everything after the `o=` line of our last SDP, to tell whether the next differs.
    pub(super) last_content: Option<String>,
    /// Payload type numbers in use in this session, from the offers we answered: RFC 3264
    /// §8.3.2 wants a dynamic number to keep its meaning for the whole session.
    pub(super) bound: Vec<(PayloadType, Format)>,
    /// The audio formats and direction of our last offer, until its answer comes.
    pub(super) offered: Option<Offered>,
}

#[derive(Debug, Clone)]
pub(super) struct Offered {
    pub(super) formats: Vec<(PayloadType, Format)>,
    pub(super) direction: MediaDirection,
}

/// One `m=` section of our SDP.
#[derive(Debug)]
pub(super) enum Section<'a> {
    Audio {
        proto: &'a str,
        formats: &'a [(PayloadType, Format)],
        ptime_ms: u32,
        direction: MediaDirection,
    },
    /// A section of the offer we refuse: same media and proto, port zero (RFC 3264 §6).
    Rejected {
        media: &'a str,
        proto: &'a str,
        formats: &'a [String],
    },
}

impl LocalSession {
    /// `session_id` is the `o=` session id (the caller picks it: time or randomness are not
    /// ours to read); the version starts at 1. `address` is our RTP socket.
    pub fn new(session_id: u64, address: SocketAddr, preferences: CodecPreferences) -> Self {
        Self {
            session_id,
            version: 1,
            address,
            preferences,
            on_hold: false,
            last_content: None,
            bound: Vec::new(),
            offered: None,
        }
    }

    /// Puts the phone on hold (our next offer is sendonly, RFC 3264 §8.4) or takes it off.
    pub fn set_on_hold(&mut self, on_hold: bool) {
        self.on_hold = on_hold;
    }

    pub fn is_on_hold(&self) -> bool {
        self.on_hold
    }

    /// The `o=` version of the last SDP we wrote (or of the first, before any).
    pub fn session_version(&self) -> u64 {
        self.version
    }

    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn preferences(&self) -> &CodecPreferences {
        &self.preferences
    }

    /// The most we agree to: everything, or only sending while we hold the phone.
    pub(super) fn wanted_direction(&self) -> MediaDirection {
        if self.on_hold {
            MediaDirection::SendOnly
        } else {
            MediaDirection::SendRecv
        }
    }

    /// Writes our SDP with these sections. The `o=` version goes up by one exactly when
    /// the content differs from our previous SDP (RFC 3264 §8); the session id never moves.
    pub(super) fn write(&mut self, sections: &[Section<'_>]) -> String {
        let ip = self.address.ip();
        let mut content = String::with_capacity(256);
        line(&mut content, format_args!("s=sipbridge"));
        line(&mut content, format_args!("c=IN {} {ip}", addrtype(ip)));
        line(&mut content, format_args!("t=0 0"));
        for section in sections {
            self.write_section(&mut content, section);
        }
        if self
            .last_content
            .as_ref()
            .is_some_and(|last| *last != content)
        {
            self.version = self.version.wrapping_add(1);
        }
        let mut sdp = String::with_capacity(content.len() + 64);
        line(&mut sdp, format_args!("v=0"));
        line(
            &mut sdp,
            format_args!(
                "o=- {} {} IN {} {ip}",
                self.session_id,
                self.version,
                addrtype(ip)
            ),
        );
        sdp.push_str(&content);
        self.last_content = Some(content);
        sdp
    }

    fn write_section(&self, out: &mut String, section: &Section<'_>) {
        match section {
            Section::Rejected {
                media,
                proto,
                formats,
            } => line(
                out,
                format_args!("m={media} 0 {proto} {}", formats.join(" ")),
            ),
            Section::Audio {
                proto,
                formats,
                ptime_ms,
                direction,
            } => {
                let port = self.address.port();
                let _ = write!(out, "m=audio {port} {proto}");
                for (pt, _) in *formats {
                    let _ = write!(out, " {}", pt.0);
                }
                out.push_str("\r\n");
                for (pt, format) in *formats {
                    write_format(out, *pt, *format);
                }
                line(out, format_args!("a=ptime:{ptime_ms}"));
                line(out, format_args!("a={}", direction_attribute(*direction)));
            }
        }
    }
}

/// The `a=rtpmap` and `a=fmtp` lines of one payload type.
fn write_format(out: &mut String, pt: PayloadType, format: Format) {
    let pt = pt.0;
    match format {
        Format::Audio(codec) => {
            line(out, format_args!("a=rtpmap:{pt} {}", rtpmap_value(codec)));
            if let Some(fmtp) = fmtp_value(codec) {
                line(out, format_args!("a=fmtp:{pt} {fmtp}"));
            }
        }
        Format::TelephoneEvent(clock) => {
            line(out, format_args!("a=rtpmap:{pt} telephone-event/{clock}"));
            line(out, format_args!("a=fmtp:{pt} {TELEPHONE_EVENTS}"));
        }
        // Never chosen for our SDP; nothing to write.
        Format::Other => {}
    }
}

fn line(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(args);
    out.push_str("\r\n");
}

fn addrtype(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// The telephone-event payload type in `formats` with this clock, if listed.
pub(super) fn event_pt(formats: &[(PayloadType, Format)], clock: u32) -> Option<PayloadType> {
    formats
        .iter()
        .find(|(_, f)| *f == Format::TelephoneEvent(clock))
        .map(|(pt, _)| *pt)
}

/// The payload type bound to `codec` in `formats`, if listed.
pub(super) fn codec_pt(formats: &[(PayloadType, Format)], codec: Codec) -> Option<PayloadType> {
    formats
        .iter()
        .find(|(_, f)| *f == Format::Audio(codec))
        .map(|(pt, _)| *pt)
}
