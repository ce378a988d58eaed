//! Server side: challenging inbound requests and verifying their credentials.
//!
//! The bridge acts as a proxy-style UAS toward trunks, so it answers 407 with
//! `Proxy-Authenticate` and reads `Proxy-Authorization` (RFC 3261 §22.3). The same values work
//! for 401/`WWW-Authenticate`.

use std::time::{Duration, SystemTime};

use super::digest::{self, Input, QopAuth};
use super::nonce::{Minted, NonceKey, ReplayWindow, Seen};
use super::params::check_quotable;
use super::{Algorithm, Challenge, Credentials, Qop};
use crate::Error;
use crate::message::SipUri;

/// Issues challenges and verifies credentials for one realm.
///
/// Holds no password: the caller looks up the password for the username in the credentials
/// (see [`Credentials::parse`]) and passes it to [`Challenger::verify`].
pub struct Challenger {
    key: NonceKey,
    realm: String,
    opaque: Option<String>,
    lifetime: Duration,
    next_serial: u64,
    replay: ReplayWindow,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenger")
            .field("key", &self.key)
            .field("realm", &self.realm)
            .field("opaque", &self.opaque)
            .field("lifetime", &self.lifetime)
            .field("next_serial", &self.next_serial)
            .field("replay", &self.replay.len())
            .finish()
    }
}

/// Seconds since the epoch; a clock before 1970 counts as 0 (it only makes nonces look older).
fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Challenger {
    /// Long enough for a client to answer a challenge and reuse the nonce for a few follow-up
    /// requests; short enough that a captured nonce is soon useless.
    pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(5 * 60);
    /// Nonces remembered for replay detection (each entry is a few dozen bytes).
    pub const DEFAULT_REPLAY_CAPACITY: usize = 4096;

    /// `secret` must be random (the caller owns the randomness source) and may be fresh on each
    /// start: nonces from before a restart are then treated as stale, costing one round trip.
    pub fn new(secret: [u8; 32], realm: &str) -> Result<Self, Error> {
        check_quotable("realm", realm)?;
        Ok(Self {
            key: NonceKey::new(&secret),
            realm: realm.to_owned(),
            opaque: None,
            lifetime: Self::DEFAULT_NONCE_LIFETIME,
            next_serial: 0,
            replay: ReplayWindow::new(Self::DEFAULT_REPLAY_CAPACITY),
        })
    }

    /// How long a nonce stays valid (whole seconds are used).
    pub fn with_nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Bound of the replay memory (at least 1).
    pub fn with_replay_capacity(mut self, capacity: usize) -> Self {
        self.replay = ReplayWindow::new(capacity);
        self
    }

    /// Adds an `opaque` to every challenge; credentials must then echo it.
    pub fn with_opaque(mut self, opaque: &str) -> Result<Self, Error> {
        check_quotable("opaque", opaque)?;
        self.opaque = Some(opaque.to_owned());
        Ok(self)
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Nonces currently remembered for replay detection.
    pub fn replay_entries(&self) -> usize {
        self.replay.len()
    }

    /// Header values for a 407 (or 401): one per algorithm in preference order, SHA-256 then
    /// MD5, as RFC 8760 §2.4 asks (MD5 stays for the many trunks that know nothing else). Both
    /// carry the same fresh nonce; `stale` tells the client its credentials were fine and only
    /// the nonce needs renewing (RFC 2617 §3.2.1).
    pub fn challenge(&mut self, now: SystemTime, stale: bool) -> Vec<String> {
        self.challenge_with(now, stale, &[Algorithm::Sha256, Algorithm::Md5])
    }

    /// [`Challenger::challenge`] with the algorithms (one header each) in the order given.
    /// Many user agents answer only the first challenge and know only MD5, so a trunk may
    /// need MD5 first, or alone.
    pub fn challenge_with(
        &mut self,
        now: SystemTime,
        stale: bool,
        algorithms: &[Algorithm],
    ) -> Vec<String> {
        let minted = Minted {
            issued: unix_secs(now),
            serial: self.next_serial,
        };
        self.next_serial = self.next_serial.wrapping_add(1);
        let nonce = self.key.mint(&self.realm, minted);
        algorithms
            .iter()
            .map(|&algorithm| {
                Challenge {
                    realm: self.realm.clone(),
                    nonce: nonce.clone(),
                    opaque: self.opaque.clone(),
                    stale,
                    algorithm,
                    qop: vec![Qop::Auth],
                    domain: Vec::new(),
                }
                .to_string()
            })
            .collect()
    }

    /// Verifies one `Proxy-Authorization` (or `Authorization`) value against the request's
    /// method and Request-URI and the expected username and password.
    ///
    /// `Ok(())` means authenticated. Every `Err` maps to an answer with
    /// [`Error::auth_rejection`].
    pub fn verify(
        &mut self,
        now: SystemTime,
        method: &str,
        request_uri: &str,
        credentials: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        let credentials = Credentials::parse(credentials)?;
        self.verify_credentials(now, method, request_uri, &credentials, username, password)
    }

    /// [`Challenger::verify`] on already parsed credentials.
    ///
    /// Order of checks: shape (400), realm, username and digest (403), then the nonce. The
    /// digest is checked before the nonce so that `stale=true` is only ever said to a client
    /// that proved it knows the password, as RFC 2617 §3.2.1 asks. A nonce that is not ours
    /// (bad tag) but carries a correct digest is treated like a stale one: it is what clients
    /// present after we restarted with a new secret, and a fresh challenge gives nothing away
    /// that an unauthenticated request would not. With a wrong digest it is a plain 403.
    pub fn verify_credentials(
        &mut self,
        now: SystemTime,
        method: &str,
        request_uri: &str,
        credentials: &Credentials,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        let c = credentials;
        let qop = match c.qop {
            None => None,
            Some(Qop::AuthInt) => return Err(Error::DigestUnsupportedQop),
            Some(Qop::Auth) => Some(QopAuth {
                cnonce: c
                    .cnonce
                    .as_deref()
                    .ok_or(Error::DigestMissingParam { name: "cnonce" })?,
                nc: c.nc.ok_or(Error::DigestMissingParam { name: "nc" })?,
            }),
        };
        // RFC 2617 §3.2.2.5: the digest covers the client's copy of the URI, so it must name
        // the Request-URI or a captured response could be aimed elsewhere.
        if !same_target(&c.uri, request_uri) {
            return Err(Error::DigestUriMismatch);
        }
        if self
            .opaque
            .as_deref()
            .is_some_and(|o| c.opaque.as_deref() != Some(o))
        {
            return Err(Error::DigestOpaqueMismatch);
        }
        if c.realm != self.realm {
            return Err(Error::DigestRealmMismatch);
        }
        let expected = digest::response(&Input {
            algorithm: c.algorithm,
            username: &c.username,
            realm: &self.realm,
            password,
            nonce: &c.nonce,
            method,
            uri: &c.uri,
            qop,
        })?;
        let user_ok = digest::ct_str_eq(&c.username, username);
        let response_ok = digest::response_matches(&c.response, &expected);
        if !user_ok {
            return Err(Error::DigestUnknownUser);
        }
        if !response_ok {
            return Err(Error::DigestWrongResponse);
        }
        let minted = self
            .key
            .open(&self.realm, &c.nonce)
            .ok_or(Error::DigestForeignNonce)?;
        let now = unix_secs(now);
        let lifetime = self.lifetime.as_secs();
        if now.saturating_sub(minted.issued) > lifetime {
            return Err(Error::DigestStaleNonce);
        }
        match self.replay.check(minted, qop.map(|q| q.nc), now, lifetime) {
            Seen::Fresh => Ok(()),
            Seen::Replayed => Err(Error::DigestReplay),
            Seen::Forgotten => Err(Error::DigestStaleNonce),
        }
    }
}

/// What to answer a request whose credentials failed (or were missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 407 with [`Challenger::challenge`]`(now, stale)`. A request without credentials gets
    /// `Challenge { stale: false }`.
    Challenge { stale: bool },
    /// 403: wrong credentials or a replay. Never says which of username or password was wrong.
    Forbidden { reason: &'static str },
    /// 400: the credentials cannot be checked as sent.
    BadRequest { reason: &'static str },
}

impl Rejection {
    /// The SIP status code.
    pub fn status(self) -> u16 {
        match self {
            Self::Challenge { .. } => 407,
            Self::Forbidden { .. } => 403,
            Self::BadRequest { .. } => 400,
        }
    }

    /// The reason phrase, safe to send to the peer.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Challenge { .. } => "Proxy Authentication Required",
            Self::Forbidden { reason } | Self::BadRequest { reason } => reason,
        }
    }
}

impl Error {
    /// The answer for a digest verification failure; `None` for errors that are not about
    /// verifying credentials (including client-side [`Error::DigestNoUsableChallenge`]).
    pub fn auth_rejection(&self) -> Option<Rejection> {
        let bad = |reason| Some(Rejection::BadRequest { reason });
        match self {
            Self::DigestEmpty
            | Self::DigestTooLarge
            | Self::DigestNotDigest
            | Self::DigestSyntax { .. }
            | Self::DigestUnterminatedQuote { .. }
            | Self::DigestDuplicateParam { .. }
            | Self::DigestMissingParam { .. }
            | Self::DigestInvalidParam { .. } => bad("Bad Request - malformed credentials"),
            Self::DigestUnsupportedAlgorithm | Self::DigestUnsupportedQop => {
                bad("Bad Request - unsupported digest algorithm or qop")
            }
            Self::DigestUriMismatch => bad("Bad Request - digest uri does not match Request-URI"),
            Self::DigestOpaqueMismatch => bad("Bad Request - digest opaque mismatch"),
            Self::DigestRealmMismatch | Self::DigestUnknownUser | Self::DigestWrongResponse => {
                Some(Rejection::Forbidden {
                    reason: "Forbidden - wrong credentials",
                })
            }
            Self::DigestReplay => Some(Rejection::Forbidden {
                reason: "Forbidden - credentials replayed",
            }),
            Self::DigestStaleNonce | Self::DigestForeignNonce => {
                Some(Rejection::Challenge { stale: true })
            }
            // Client-side and non-digest errors: nothing to answer a peer with.
            _ => None,
        }
    }
}

/// Whether the digest `uri` names the Request-URI: the same text, or (as SIPp and some
/// phones send it) the same SIP host and port with the user part left out.
fn same_target(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (SipUri::parse(digest_uri), SipUri::parse(request_uri)) {
        (Some(digest), Some(request)) => {
            digest.host == request.host
                && digest.port == request.port
                && digest
                    .user
                    .as_ref()
                    .is_none_or(|user| Some(user) == request.user.as_ref())
        }
        _ => false,
    }
}
