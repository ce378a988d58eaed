//! Session timers (RFC 4028): the Session-Expires and Min-SE headers, the UAS's 422 and
//! 2xx (§9), the UAC reading a 2xx (§7.2), and the two deadlines of §10.

use std::fmt;
use std::time::{Duration, Instant};

use super::DialogEvent;
use crate::Error;
use crate::message::grammar::trim_lws;
use crate::message::{Headers, Params, Request, Response};

/// The smallest session interval anyone may ask for (RFC 4028 §4, §5).
pub const ABSOLUTE_MIN_SE: u32 = 90;

/// Which side of the refreshing transaction sends the refreshes (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    Uac,
    Uas,
}

/// `Session-Expires: 1800;refresher=uac` (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionExpires {
    /// delta-seconds.
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses `delta-seconds *(SEMI se-params)`; `refresher` must be `uac` or `uas`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let (interval, params) = delta_seconds(value, "Session-Expires")?;
        let refresher = match params.value("refresher") {
            None => None,
            Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return Err(bad("Session-Expires", "refresher is not uac or uas")),
        };
        Ok(Self {
            interval,
            refresher,
        })
    }

    /// The header of a message, if present; more than one is an error (it is single-valued).
    pub fn from_headers(headers: &Headers) -> Result<Option<Self>, Error> {
        single(headers, "Session-Expires")?
            .map(Self::parse)
            .transpose()
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval)?;
        match self.refresher {
            Some(Refresher::Uac) => f.write_str(";refresher=uac"),
            Some(Refresher::Uas) => f.write_str(";refresher=uas"),
            None => Ok(()),
        }
    }
}

/// Parses `Min-SE: delta-seconds *(SEMI generic-param)` (RFC 4028 §5).
pub fn parse_min_se(value: &str) -> Result<u32, Error> {
    delta_seconds(value, "Min-SE").map(|(seconds, _)| seconds)
}

fn min_se_of(headers: &Headers) -> Result<Option<u32>, Error> {
    single(headers, "Min-SE")?.map(parse_min_se).transpose()
}

fn single<'a>(headers: &'a Headers, name: &'static str) -> Result<Option<&'a str>, Error> {
    let mut values = headers.all(name);
    let first = values.next();
    match values.next() {
        Some(_) => Err(Error::DuplicateHeader(name)),
        None => Ok(first),
    }
}

fn delta_seconds(value: &str, header: &'static str) -> Result<(u32, Params), Error> {
    let value = trim_lws(value);
    let end = value.find(';').unwrap_or(value.len());
    let digits = trim_lws(&value[..end]);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(header, "not delta-seconds"));
    }
    let seconds = digits
        .parse()
        .map_err(|_| bad(header, "delta-seconds too large"))?;
    Ok((seconds, Params::parse(&value[end..], header)?))
}

fn bad(header: &'static str, why: &'static str) -> Error {
    Error::InvalidHeader { header, why }
}

/// Our session timer policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// The interval we ask for or grant, seconds (RFC 4028 §4 recommends 1800).
    pub session_expires: u32,
    /// The smallest interval we accept, seconds; never below [`ABSOLUTE_MIN_SE`].
    pub min_se: u32,
    /// Whether we take the refresher role when the peer leaves the choice to us.
    pub we_refresh: bool,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            session_expires: 1800,
            min_se: ABSOLUTE_MIN_SE,
            we_refresh: true,
        }
    }
}

impl TimerConfig {
    fn min_se(&self) -> u32 {
        self.min_se.max(ABSOLUTE_MIN_SE)
    }

    /// The headers for a dialog-forming INVITE we send (RFC 4028 §7.1): Supported, our
    /// interval, our minimum. The UAS picks the refresher.
    pub fn offer_headers(&self, headers: &mut Headers) {
        add_item(headers, "Supported", "timer");
        let interval = self.session_expires.max(self.min_se());
        headers.set("Session-Expires", interval.to_string());
        headers.set("Min-SE", self.min_se().to_string());
    }
}

/// A negotiated session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTimer {
    /// Seconds.
    pub interval: u32,
    /// Whether we send the refreshes.
    pub we_refresh: bool,
}

impl SessionTimer {
    fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval))
    }

    /// When the refresher refreshes: half the interval after the last refresh (§10).
    pub fn refresh_after(&self) -> Duration {
        self.interval() / 2
    }

    /// When the session counts as expired: the interval less min(32 s, interval/3), so our
    /// BYE goes out before anyone on the path drops the session (§10).
    pub fn expire_after(&self) -> Duration {
        self.interval() - Duration::from_secs(32).min(self.interval() / 3)
    }

    /// The Session-Expires of a refresh we send, where we are the UAC (§7.4).
    pub(crate) fn as_request_header(&self) -> SessionExpires {
        let refresher = if self.we_refresh {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        SessionExpires {
            interval: self.interval,
            refresher: Some(refresher),
        }
    }
}

/// A session timer with its deadlines, measured from the last successful refresh. A
/// deadline too far away for `Instant` (an interval of decades) is never reached.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) timer: SessionTimer,
    refresh_at: Option<Instant>,
    expire_at: Option<Instant>,
}

impl Running {
    /// The refresher refreshes at half time; both sides keep the expiry, because a refresher
    /// whose refreshes keep failing has a dead session too.
    pub(crate) fn start(timer: SessionTimer, now: Instant) -> Self {
        let refresh_at = match timer.we_refresh {
            true => now.checked_add(timer.refresh_after()),
            false => None,
        };
        Self {
            timer,
            refresh_at,
            expire_at: now.checked_add(timer.expire_after()),
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.refresh_at.into_iter().chain(self.expire_at).min()
    }

    /// The event due at `now`, and whether the timer stays.
    pub(crate) fn handle(&mut self, now: Instant) -> (Option<DialogEvent>, bool) {
        if self.expire_at.is_some_and(|at| at <= now) {
            return (Some(DialogEvent::SessionExpired), false);
        }
        if self.refresh_at.is_some_and(|at| at <= now) {
            self.refresh_at = None;
            return (Some(DialogEvent::SessionRefreshDue), true);
        }
        (None, true)
    }
}

fn supports_timer(headers: &Headers) -> bool {
    headers.has_item("Supported", "timer") || headers.has_item("Require", "timer")
}

fn add_item(headers: &mut Headers, name: &str, item: &str) {
    if !headers.has_item(name, item) {
        headers.push(name, item);
    }
}

/// The UAS check on an INVITE or UPDATE (RFC 4028 §9): a malformed Session-Expires or
/// Min-SE gets 400, an interval below our minimum from a peer that supports timers gets
/// 422 with our Min-SE. A peer without timer support cannot handle 422; we then become
/// the refresher, at no less than 90 s.
pub fn screen_session_timer(request: &Request, config: &TimerConfig) -> Result<(), Box<Response>> {
    let reject = |error: Error| {
        let (code, reason) = error.status();
        Box::new(Response::to(request, code, Some(&reason)))
    };
    let head = &request.head.other;
    let requested = SessionExpires::from_headers(head).map_err(reject)?;
    min_se_of(head).map_err(reject)?;
    match requested {
        Some(se) if se.interval < config.min_se() && supports_timer(head) => {
            let mut response = Response::to(request, 422, None);
            response
                .head
                .other
                .set("Min-SE", config.min_se().to_string());
            Err(Box::new(response))
        }
        _ => Ok(()),
    }
}

/// The UAS side of a 2xx to an INVITE or UPDATE (RFC 4028 §9): stamps Session-Expires (and
/// `Require: timer` when the UAC supports it, mandatory when it refreshes) into `response`
/// and returns the timer, or `None` when neither side asked for one.
pub(crate) fn answer(
    request: &Request,
    response: &mut Response,
    config: &TimerConfig,
) -> Result<Option<SessionTimer>, Error> {
    let head = &request.head.other;
    let supported = supports_timer(head);
    // The UAS may lower the interval but not below the request's Min-SE (or 90 s), and
    // may never raise it.
    let floor = min_se_of(head)?.unwrap_or(0).max(ABSOLUTE_MIN_SE);
    let ours = config.session_expires.max(floor);
    let (interval, asked) = match SessionExpires::from_headers(head)? {
        // Below 90 s only reaches us from a UAC without timer support (the others got
        // 422), put there by a proxy that should have raised it (§8.1): we refresh, at
        // the smallest interval the protocol allows rather than continuously.
        Some(se) => (se.interval.min(ours).max(ABSOLUTE_MIN_SE), se.refresher),
        None if supported => (ours, None),
        None => return Ok(None),
    };
    let refresher = match (supported, asked) {
        // A UAC without the extension cannot refresh: the job is ours (§9 table).
        (false, _) => Refresher::Uas,
        (true, Some(asked)) => asked,
        (true, None) if config.we_refresh => Refresher::Uas,
        (true, None) => Refresher::Uac,
    };
    let header = SessionExpires {
        interval,
        refresher: Some(refresher),
    };
    response
        .head
        .other
        .set("Session-Expires", header.to_string());
    if supported {
        add_item(&mut response.head.other, "Require", "timer");
    }
    Ok(Some(SessionTimer {
        interval,
        we_refresh: refresher == Refresher::Uas,
    }))
}

/// The UAC reading a 2xx to its INVITE or UPDATE (RFC 4028 §7.2): no Session-Expires means
/// no timer (it may be switched off mid-dialog). A 2xx without the refresher parameter
/// left the job unassigned; we take it, as the reading that cannot leave the session
/// unrefreshed. An interval below the 90 s floor is raised to it: a peer cannot make us
/// refresh (or hang up) continuously.
pub(crate) fn from_answer(response: &Response) -> Result<Option<SessionTimer>, Error> {
    Ok(
        SessionExpires::from_headers(&response.head.other)?.map(|se| SessionTimer {
            interval: se.interval.max(ABSOLUTE_MIN_SE),
            we_refresh: se.refresher != Some(Refresher::Uas),
        }),
    )
}

/// Headers for a re-INVITE or UPDATE we send (RFC 4028 §7.4): always Supported; with a
/// running timer, its interval and our role, and our Min-SE.
pub(crate) fn refresh_headers(
    timer: Option<SessionTimer>,
    config: &TimerConfig,
    headers: &mut Headers,
) {
    add_item(headers, "Supported", "timer");
    if let Some(timer) = timer {
        headers.set("Session-Expires", timer.as_request_header().to_string());
        headers.set("Min-SE", config.min_se().to_string());
    }
}

/// The Min-SE of a 422 (RFC 4028 §7.4: retry with at least that interval).
pub(crate) fn min_se_of_422(response: &Response) -> Result<Option<u32>, Error> {
    min_se_of(&response.head.other)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_session_expires_and_min_se() {
        let se = SessionExpires::parse("1800 ; refresher = UAS;x=1").unwrap();
        assert_eq!(se.interval, 1800);
        assert_eq!(se.refresher, Some(Refresher::Uas));
        assert_eq!(se.to_string(), "1800;refresher=uas");
        assert_eq!(SessionExpires::parse("90").unwrap().refresher, None);
        assert_eq!(parse_min_se("120;foo").unwrap(), 120);
        for bad in [
            "",
            "abc",
            "-5",
            "1800;refresher=both",
            "99999999999",
            "1800;;",
        ] {
            assert!(SessionExpires::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_min_se("1.5").is_err());
    }

    #[test]
    fn deadlines_follow_rfc_4028_section_10() {
        let timer = SessionTimer {
            interval: 1800,
            we_refresh: true,
        };
        assert_eq!(timer.refresh_after(), Duration::from_secs(900));
        assert_eq!(timer.expire_after(), Duration::from_secs(1768));
        let short = SessionTimer {
            interval: 90,
            we_refresh: false,
        };
        assert_eq!(short.expire_after(), Duration::from_secs(60));
    }
}
