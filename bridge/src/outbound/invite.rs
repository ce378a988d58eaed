//! The INVITE of a call we place: Request-URI and To from the number dialled and the trunk,
//! From with our number, display name and tag, our Contact and Via, and the headers the bridge,
//! the trunk and the API caller add; whatever the API caller wrote itself
//! (`outbound::overrides`) instead.

use bytes::Bytes;
use sipbridge_signaling::dial::InviteParams;
use sipbridge_signaling::message::{CallId, Host, NameAddr, Param, SipUri, Uri};
use sipbridge_signaling::screen::{ALLOWED_METHODS, SUPPORTED};
use sipbridge_signaling::transaction::Transport;

use super::Plan;
use crate::call::context::CallContext;

pub(super) fn invite_params(
    context: &CallContext,
    plan: &Plan,
    sip_call_id: &str,
    local_tag: &str,
    transport: Transport,
    offer: Bytes,
) -> InviteParams {
    let local = &context.local;
    // An address literal is an IP host (IPv6 bracketed in the URI), anything else a name.
    let host = plan
        .trunk
        .host
        .parse()
        .map_or_else(|_| Host::Name(plan.trunk.host.clone()), Host::Ip);
    let transport_param: Vec<_> = match transport {
        Transport::Udp => Vec::new(),
        other => vec![Param {
            name: "transport".into(),
            value: Some(other.via_name().to_ascii_lowercase()),
        }],
    };
    let custom = &plan.overrides;
    let request_uri = custom.request_uri.clone().unwrap_or_else(|| {
        Uri::Sip(SipUri::build(
            Some(&plan.to_number),
            &host,
            Some(plan.trunk.port),
            &transport_param,
        ))
    });
    let to_user = custom.to_user.as_deref().unwrap_or(&plan.to_number);
    let to = custom
        .to
        .clone()
        .unwrap_or_else(|| NameAddr::new(Uri::Sip(SipUri::build(Some(to_user), &host, None, &[]))));
    let our_host = match (&custom.from_host, &local.hostname) {
        (Some(host), _) | (None, Some(host)) => host
            .parse()
            .map_or_else(|_| Host::Name(host.clone()), Host::Ip),
        (None, None) => Host::Ip(local.sip_ip),
    };
    let mut from = custom.from.clone().unwrap_or_else(|| {
        let mut from = NameAddr::new(Uri::Sip(SipUri::build(
            Some(&plan.from_number),
            &our_host,
            None,
            &[],
        )));
        from.display_name = plan.display_name.as_deref().map(quoted);
        from
    });
    from.params.set("tag", Some(local_tag.to_owned()));
    let mut headers = vec![
        (
            "User-Agent".to_owned(),
            context.config.sip.user_agent.clone(),
        ),
        ("Allow".to_owned(), ALLOWED_METHODS.to_owned()),
        ("Supported".to_owned(), SUPPORTED.join(", ")),
    ];
    headers.extend(plan.trunk.headers.iter().cloned());
    InviteParams {
        request_uri,
        from,
        to,
        call_id: CallId(sip_call_id.to_owned()),
        contact: local.contact(transport),
        via: local.via(transport),
        sdp_offer: offer,
        headers,
        credentials: plan.trunk.credentials.clone(),
    }
}

/// A display name as a quoted string (RFC 3261 §25.1: `"` and `\` escaped).
pub(super) fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
