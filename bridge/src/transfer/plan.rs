//! A TransferSIPParticipant request checked and resolved into what the call needs to send
//! its REFER. Everything the API caller got wrong is refused here, before the call hears
//! of it.

use livekit_protocol::TransferSipParticipantRequest;
use sipbridge_signaling::refer::refer_to;

use crate::api::fields::{check_header, required, ringing_timeout};
use crate::call::order::TransferPlan;

/// Headers of the REFER and its subscription that only the bridge writes.
const REFER_HEADERS: &[&str] = &["refer-to", "event", "subscription-state", "refer-sub"];

/// A `headers` key starting with this goes into the Refer-To URI (`sip:x@y?Name=value`)
/// rather than onto the REFER: the transferee then puts it on its INVITE to the target
/// (RFC 3261 §19.1.5). It mirrors the `?` that starts a URI's headers.
pub const URI_HEADER_PREFIX: char = '?';

impl TransferPlan {
    /// The plan, or the message of an `invalid_argument` error.
    pub fn new(request: &TransferSipParticipantRequest) -> Result<Self, String> {
        let room = required("room_name", &request.room_name)?;
        let identity = required("participant_identity", &request.participant_identity)?;
        let mut sorted: Vec<_> = request.headers.iter().collect();
        sorted.sort();
        let mut headers = Vec::new();
        let mut uri_headers = Vec::new();
        for (name, value) in sorted {
            match name.strip_prefix(URI_HEADER_PREFIX) {
                Some(uri_header) => uri_headers.push((uri_header, value.as_str())),
                None => {
                    check_header(name, value, REFER_HEADERS)?;
                    headers.push((name.clone(), value.clone()));
                }
            }
        }
        let refer_to = refer_to(&request.transfer_to, &uri_headers).map_err(|e| e.to_string())?;
        let ringing_timeout = ringing_timeout(request.ringing_timeout.as_ref())?;
        Ok(Self {
            transfer_id: format!("STF_{:012x}", rand::random::<u64>() >> 16),
            room,
            identity,
            transfer_to: request.transfer_to.trim().to_owned(),
            refer_to,
            headers,
            play_dialtone: request.play_dialtone,
            ringing_timeout,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    fn request(transfer_to: &str, headers: &[(&str, &str)]) -> TransferSipParticipantRequest {
        TransferSipParticipantRequest {
            room_name: "sales".into(),
            participant_identity: "caller".into(),
            transfer_to: transfer_to.into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_a_bare_number() {
        let plan = TransferPlan::new(&request(" +1 555 0199 ", &[])).unwrap();
        assert_eq!(plan.refer_to, "<tel:+15550199>");
        assert_eq!(plan.transfer_to, "+1 555 0199");
        assert_eq!(plan.ringing_timeout, Duration::from_secs(30));
        assert!(plan.transfer_id.starts_with("STF_") && plan.transfer_id.len() == 16);
        assert!(plan.headers.is_empty());
    }

    #[test]
    fn headers_go_on_the_refer_or_into_the_uri() {
        let plan = TransferPlan::new(&request(
            "sip:queue@pbx.example.com",
            &[("X-B", "2"), ("?X-Account", "12 34"), ("X-A", "1")],
        ))
        .unwrap();
        assert_eq!(
            plan.refer_to,
            "<sip:queue@pbx.example.com?X-Account=12%2034>"
        );
        assert_eq!(
            plan.headers,
            vec![("X-A".into(), "1".into()), ("X-B".into(), "2".into())]
        );
    }

    #[test]
    fn mistakes_are_refused_naming_the_field() {
        let cases = [
            (request("", &[]), "transfer_to is empty"),
            (
                request("mailto:a@b", &[]),
                "is not a sip:, sips: or tel: URI",
            ),
            (
                request("+1555", &[("Refer-To", "x")]),
                "Refer-To is set by the bridge",
            ),
            (
                request("+1555", &[("Call-ID", "x")]),
                "Call-ID is set by the bridge",
            ),
            (
                request("+1555", &[("?X-A", "1")]),
                "can only be added to a sip:",
            ),
            (request("+1555", &[("X-A", "a\r\nB: c")]), "spans lines"),
        ];
        for (request, expected) in cases {
            let error = TransferPlan::new(&request).unwrap_err();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        let mut no_room = request("+1555", &[]);
        no_room.room_name.clear();
        assert_eq!(
            TransferPlan::new(&no_room).unwrap_err(),
            "room_name is required"
        );
        let mut long = request("+1555", &[]);
        long.ringing_timeout = Some(pbjson_types::Duration {
            seconds: 301,
            nanos: 0,
        });
        assert!(TransferPlan::new(&long).unwrap_err().contains("maximum"));
    }
}
