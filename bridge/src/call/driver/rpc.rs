//! The participant RPCs room members (agents, mostly) call on a SIP participant, answered as
//! LiveKit's own SIP service answers them: `lk.sip.GetRemoteHeaders` gives the far end's SIP
//! headers (the caller's INVITE, or the 2xx of a call we placed), `lk.sip.EndCall` ends the
//! call with the given headers on its BYE. Payloads are JSON, as LiveKit's SDKs send them.
//! Any other method gets the SDKs' "unsupported method" error.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::api::fields::check_header;
use crate::room::{RpcError, RpcRequest};

pub(super) const GET_REMOTE_HEADERS: &str = "lk.sip.GetRemoteHeaders";
pub(super) const END_CALL: &str = "lk.sip.EndCall";

/// LiveKit's RPC error codes we answer with.
const UNSUPPORTED_METHOD: u32 = 1400;
const UNSUPPORTED_VERSION: u32 = 1404;
const APPLICATION_ERROR: u32 = 1500;

/// Transport and dialog headers a caller has no use for, as LiveKit's service leaves them
/// out of `GetRemoteHeaders` too.
const NOT_REPORTED: &[&str] = &[
    "route",
    "record-route",
    "via",
    "supported",
    "accept",
    "allow",
    "allow-events",
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "cseq",
    "event",
    "expires",
    "session-expires",
    "min-se",
    "max-forwards",
];

/// What a request asks of the call.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Asked {
    /// Answer it with this.
    Answer(Result<String, RpcError>),
    /// End the call, these headers on the BYE; the answer (`{}`) goes out first.
    EndCall(Vec<(String, String)>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GetRemoteHeaders {
    include: Vec<String>,
    exclude: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EndCall {
    headers: BTreeMap<String, String>,
}

/// The answer to `request`; `remote` is the far end's message as it came (its headers are
/// what `GetRemoteHeaders` reports), `None` while there is none yet.
pub(super) fn ask(request: &RpcRequest, remote: Option<&[u8]>) -> Asked {
    if request.version != 1 {
        let message = format!("Unsupported RPC version {}", request.version);
        return Asked::Answer(Err(error(UNSUPPORTED_VERSION, message)));
    }
    match request.method.as_str() {
        GET_REMOTE_HEADERS => Asked::Answer(
            payload::<GetRemoteHeaders>(&request.payload)
                .map(|asked| remote_headers(remote.unwrap_or_default(), &asked)),
        ),
        END_CALL => match payload::<EndCall>(&request.payload).and_then(bye_headers) {
            Ok(headers) => Asked::EndCall(headers),
            Err(refused) => Asked::Answer(Err(refused)),
        },
        _ => Asked::Answer(Err(error(
            UNSUPPORTED_METHOD,
            "Method not supported at destination".into(),
        ))),
    }
}

/// A JSON payload (empty: all defaults).
fn payload<T: Default + for<'de> Deserialize<'de>>(text: &str) -> Result<T, RpcError> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| {
        error(
            APPLICATION_ERROR,
            format!("the payload is not the JSON asked for: {e}"),
        )
    })
}

/// The headers of `message` (start line skipped) as `{"headers": {name: value}}`, less the
/// ones never reported, `exclude` and, when `include` names any, all but those.
fn remote_headers(message: &[u8], asked: &GetRemoteHeaders) -> String {
    let lower = |names: &[String]| -> Vec<String> {
        names.iter().map(|name| name.to_ascii_lowercase()).collect()
    };
    let (include, exclude) = (lower(&asked.include), lower(&asked.exclude));
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut headers = BTreeMap::new();
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        let key = name.to_ascii_lowercase();
        let wanted = include.is_empty() || include.contains(&key);
        if wanted && !exclude.contains(&key) && !NOT_REPORTED.contains(&key.as_str()) {
            headers.insert(name.to_owned(), value.to_owned());
        }
    }
    serde_json::json!({ "headers": headers }).to_string()
}

/// `EndCall`'s headers, each one a header the BYE may carry (nothing the dialog writes, one
/// line each).
fn bye_headers(asked: EndCall) -> Result<Vec<(String, String)>, RpcError> {
    for (name, value) in &asked.headers {
        check_header(name, value, &[]).map_err(|refused| error(APPLICATION_ERROR, refused))?;
    }
    Ok(asked.headers.into_iter().collect())
}

fn error(code: u32, message: String) -> RpcError {
    RpcError { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+15550100@bridge SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7\r\nFrom: <sip:+15557770001@carrier>;tag=a\r\nTo: <sip:+15550100@bridge>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nX-Customer: 42\r\nUser-Agent: deskphone\r\nContent-Length: 0\r\n\r\nv=0\r\n";

    fn request(method: &str, payload: &str) -> RpcRequest {
        RpcRequest {
            id: "r".into(),
            method: method.into(),
            payload: payload.into(),
            version: 1,
        }
    }

    fn headers_of(asked: Asked) -> serde_json::Value {
        let Asked::Answer(Ok(payload)) = asked else {
            panic!("{asked:?}");
        };
        serde_json::from_str::<serde_json::Value>(&payload).unwrap()["headers"].clone()
    }

    #[test]
    fn remote_headers_leave_out_the_transport_ones_and_follow_include_and_exclude() {
        let all = headers_of(ask(
            &request(GET_REMOTE_HEADERS, ""),
            Some(INVITE.as_bytes()),
        ));
        assert_eq!(all["X-Customer"], "42");
        assert_eq!(all["Call-ID"], "c1");
        assert!(
            all.get("Via").is_none() && all.get("CSeq").is_none(),
            "{all}"
        );
        let only = headers_of(ask(
            &request(
                GET_REMOTE_HEADERS,
                r#"{"include": ["x-customer", "User-Agent"]}"#,
            ),
            Some(INVITE.as_bytes()),
        ));
        assert_eq!(
            only,
            serde_json::json!({"X-Customer": "42", "User-Agent": "deskphone"})
        );
        let less = headers_of(ask(
            &request(GET_REMOTE_HEADERS, r#"{"exclude": ["user-agent"]}"#),
            Some(INVITE.as_bytes()),
        ));
        assert!(less.get("User-Agent").is_none() && less.get("From").is_some());
    }

    #[test]
    fn end_call_takes_its_headers_for_the_bye_and_refuses_the_dialogs_own() {
        let asked = ask(
            &request(END_CALL, r#"{"headers": {"X-Reason": "agent done"}}"#),
            None,
        );
        assert_eq!(
            asked,
            Asked::EndCall(vec![("X-Reason".into(), "agent done".into())])
        );
        assert_eq!(
            ask(&request(END_CALL, ""), None),
            Asked::EndCall(Vec::new())
        );
        for bad in [
            r#"{"headers": {"Call-ID": "x"}}"#,
            r#"{"headers": {"X-A": "1\r\nVia: evil"}}"#,
            r#"{"headers": {"bad name": "1"}}"#,
            "not json",
        ] {
            let Asked::Answer(Err(refused)) = ask(&request(END_CALL, bad), None) else {
                panic!("{bad} was taken");
            };
            assert_eq!(refused.code, APPLICATION_ERROR, "{bad}: {refused:?}");
        }
    }

    #[test]
    fn other_methods_and_versions_get_livekits_errors() {
        let Asked::Answer(Err(refused)) = ask(&request("lk.sip.Dance", "{}"), None) else {
            panic!();
        };
        assert_eq!(refused.code, UNSUPPORTED_METHOD);
        let mut v2 = request(END_CALL, "{}");
        v2.version = 2;
        let Asked::Answer(Err(refused)) = ask(&v2, None) else {
            panic!();
        };
        assert_eq!(refused.code, UNSUPPORTED_VERSION);
    }
}
