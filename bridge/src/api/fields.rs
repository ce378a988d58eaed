//! Checks shared by the API methods' requests. Each returns the message the API caller
//! gets (as `invalid_argument`), naming the field.

use std::time::Duration;

use sipbridge_signaling::message::is_token;

/// Used when a request names no `ringing_timeout` (docs/OUTCOMES.md); LiveKit's default, so
/// also the PIN time of a cluster rule that sets none.
pub(crate) const DEFAULT_RINGING_TIMEOUT: Duration = Duration::from_secs(30);
/// Longer than any carrier lets a phone ring; a bigger value is a mistake in the request.
const MAX_RINGING_TIMEOUT: Duration = Duration::from_secs(300);

/// Headers the bridge writes itself on any request it sends: an API caller setting them
/// would corrupt it (RFC 3261 §8.1.1 header fields, routing, auth and body framing).
const RESERVED_HEADERS: &[&str] = &[
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "contact",
    "max-forwards",
    "content-length",
    "content-type",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
    "allow",
    "supported",
    "require",
    "user-agent",
];

/// A required text field, trimmed: present, and without spaces or control characters.
pub(crate) fn required(field: &str, value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("{field} is required"));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{field} contains spaces or control characters"));
    }
    Ok(value.to_owned())
}

/// One of the request's `headers`: a SIP header name (RFC 3261 `token`) that the bridge
/// does not write itself (nor any of `also_reserved`, lower case), with a one-line value.
pub(crate) fn check_header(name: &str, value: &str, also_reserved: &[&str]) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!("headers: {name:?} is not a SIP header name"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || also_reserved.contains(&lower.as_str()) {
        return Err(format!("headers: {name} is set by the bridge"));
    }
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(format!("headers: the value of {name} spans lines"));
    }
    Ok(())
}

/// A protobuf duration; `None` when absent or zero (the proto's "use the default").
pub(crate) fn duration(
    field: &str,
    value: Option<&pbjson_types::Duration>,
) -> Result<Option<Duration>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.seconds < 0 || value.nanos < 0 {
        return Err(format!("{field} is negative"));
    }
    let duration = Duration::new(value.seconds.unsigned_abs(), value.nanos.unsigned_abs());
    Ok((!duration.is_zero()).then_some(duration))
}

/// A request's `ringing_timeout`: [`DEFAULT_RINGING_TIMEOUT`] when absent or zero, at most
/// [`MAX_RINGING_TIMEOUT`].
pub(crate) fn ringing_timeout(value: Option<&pbjson_types::Duration>) -> Result<Duration, String> {
    let ringing_timeout = duration("ringing_timeout", value)?.unwrap_or(DEFAULT_RINGING_TIMEOUT);
    if ringing_timeout > MAX_RINGING_TIMEOUT {
        return Err(format!(
            "ringing_timeout {ringing_timeout:?} is over the {MAX_RINGING_TIMEOUT:?} maximum"
        ));
    }
    Ok(ringing_timeout)
}
