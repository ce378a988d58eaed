//! SDP offer/answer for the SIP leg (RFC 3264, RFC 8866): audio only, plain RTP.
//!
//! [`parse`] turns a body into a [`SessionDescription`]; a [`LocalSession`] per call answers
//! the phone's offers ([`LocalSession::answer`]) and makes ours ([`LocalSession::offer`],
//! [`LocalSession::handle_answer`]), each giving the media leg its
//! [`Negotiated`]. Errors map to the SIP response with
//! [`Error::sdp_rejection`](crate::Error::sdp_rejection).
//!
//! Its values are our own plain types ([`Codec`], [`PayloadType`], [`MediaDirection`],
//! [`Negotiated`]): signaling knows nothing of media, and `bridge/` converts them for the
//! media leg.
//!
//! # Why our own parser
//!
//! The first choice was the `sdp` crate (or its successor `rtc-sdp`). Both were measured
//! (sdp 0.5.3, rtc-sdp 0.21.1, same results) on the fixtures in `testdata/sdp/`, on
//! variants of them, and on 200,000 random mutations:
//!
//! - no panic in 200,000 mutated bodies (good);
//! - they accept all five fixtures, but at 77–190 allocations (3.4–7.5 KB) per body;
//! - they reject a Latin-1 `s=` (the whole body must be UTF-8, though RFC 8866 §6.10 allows
//!   other charsets), an offer without `s=` or `t=`, and session lines out of RFC order;
//! - they accept a body with no `m=` line, and have no size limit: 1 MiB of attributes
//!   is parsed, in 123,394 allocations (5.8 MB);
//! - errors do not say which line (e.g. "parse int: number too large" for a bad port);
//! - `rtc-sdp` pulls `rand`, `getrandom`, `nix` and `serde` into a sans-IO crate.
//!
//! We still need our own types for `rtpmap`/`fmtp`/`ptime`, so the crate would save only
//! line splitting. Our parser (`parse.rs`) reads bytes, caps the body at [`MAX_BODY`], and
//! names the line of every error; it allocates only the fields it keeps.

mod answer;
mod codec;
mod description;
mod negotiate;
mod offer;
mod parse;
mod reject;
mod session;
mod types;

pub use codec::CodecPreferences;
pub use description::{
    ConnectionAddress, Fmtp, MediaDescription, Origin, RtcpAddress, RtpMap, SessionDescription,
};
pub use parse::{MAX_BODY, MAX_FORMATS, MAX_MEDIA, parse};
pub use reject::SdpRejection;
pub use session::LocalSession;
pub use types::{Codec, MediaDirection, Negotiated, PayloadType};
