//! SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
//!
//! Everything works on header *values* (the text after `Proxy-Authenticate:` and friends) plus
//! the request's method and Request-URI, so it does not depend on the message types.
//!
//! - [`Challenge`] and [`Credentials`] parse and print `WWW-/Proxy-Authenticate` and
//!   `Authorization`/`Proxy-Authorization` values, with our own strict parser (see `params`).
//! - Server side, for inbound trunks with credentials: a [`Challenger`] issues self-validating
//!   nonces and verifies credentials; [`Error::auth_rejection`] turns each failure into the
//!   answer to send (407 with a fresh challenge, 403 or 400).
//! - Client side, for carriers that challenge our outbound calls: [`pick_challenge`] and
//!   [`respond`].
//!
//! Sans-IO: the caller passes the time, the nonce secret and the cnonce randomness. Passwords are
//! only ever borrowed for the duration of one call and never stored or printed.

mod challenge;
mod client;
mod credentials;
mod digest;
mod nonce;
mod params;
mod server;
#[cfg(test)]
mod tests;

pub use challenge::Challenge;
pub use client::{cnonce_from_bytes, pick_challenge, respond};
pub use credentials::Credentials;
pub use server::{Challenger, Rejection};

use std::fmt;

use crate::Error;

/// A digest algorithm we implement (RFC 7616 §3.3, RFC 8760 §2.2).
///
/// SHA-512-256 is registered too but rare on SIP trunks; a challenge naming it (or anything
/// else) parses to [`Error::DigestUnsupportedAlgorithm`] and is skipped by [`pick_challenge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, the RFC 2617 default when no `algorithm` parameter is given.
    Md5,
    /// `MD5-sess`: H(A1) also covers the nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Parses the token case-insensitively (RFC 7616 §3.3 compares it that way).
    pub fn parse(token: &str) -> Result<Self, Error> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(token))
            .ok_or(Error::DigestUnsupportedAlgorithm)
    }

    /// True for the `-sess` variants, whose H(A1) needs a cnonce and so a qop.
    pub fn is_session(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Length of a response in hex digits: 32 for MD5, 64 for SHA-256.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 | Self::Md5Sess => 32,
            Self::Sha256 | Self::Sha256Sess => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quality of protection (RFC 2617 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: the response covers method and URI. The only one we answer with.
    Auth,
    /// `auth-int`: also the body. Recognised so it can be refused by name; never used.
    AuthInt,
}

impl Qop {
    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    /// Parses one qop token case-insensitively; `None` for tokens we do not know.
    pub fn parse(token: &str) -> Option<Self> {
        [Self::Auth, Self::AuthInt]
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
