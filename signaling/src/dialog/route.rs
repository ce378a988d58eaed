//! The route set (RFC 3261 §12.1.1, §12.1.2), the Request-URI and Route headers of an
//! in-dialog request with loose or strict routing (§12.2.1.1), and its first hop (§8.1.2,
//! RFC 3263 §4.1–§4.2).

use std::net::{IpAddr, SocketAddr};

use crate::Error;
use crate::message::grammar::split_commas;
use crate::message::{Headers, Host, NameAddr, SipUri, Uri};

/// Where a request goes first: the first Route's URI, or the Request-URI without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The URI the hop was taken from.
    pub uri: SipUri,
    /// What to send to: the `maddr` parameter if present, else the URI's host.
    pub host: Host,
    /// The port as written; `None` leaves the caller free to look up SRV (RFC 3263 §4.2).
    pub port: Option<u16>,
    /// Lower case: `udp`, `tcp`, `tls`, or what `;transport=` says. A SIPS URI is `tls`.
    pub transport: String,
    /// The socket address when the host is an IP literal (with the default port 5060, or
    /// 5061 for TLS); `None` for a name, which the caller resolves (RFC 3263).
    pub addr: Option<SocketAddr>,
}

impl NextHop {
    /// The hop for a URI; an error for anything but sip:/sips:.
    pub fn of(uri: &Uri) -> Result<Self, Error> {
        let sip = uri.as_sip().ok_or(Error::NotSipTarget)?;
        let transport = match sip.transport() {
            _ if sip.secure => "tls".to_owned(),
            Some(transport) => transport,
            None => "udp".to_owned(),
        };
        let maddr = sip.params.value("maddr").map(|m| {
            let bare = m.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<IpAddr>()
                .map_or_else(|_| Host::Name(m.to_owned()), Host::Ip)
        });
        let host = maddr.unwrap_or_else(|| sip.host.clone());
        let default_port = if transport == "tls" { 5061 } else { 5060 };
        let addr = match &host {
            Host::Ip(ip) => Some(SocketAddr::new(*ip, sip.port.unwrap_or(default_port))),
            Host::Name(_) => None,
        };
        Ok(Self {
            uri: sip.clone(),
            host,
            port: sip.port,
            transport,
            addr,
        })
    }
}

/// The Record-Route (or Route) values of a message, top first. Each must be a SIP or SIPS
/// URI: a proxy can only be reached that way.
pub(crate) fn parse_route_set(
    headers: &Headers,
    name: &'static str,
) -> Result<Vec<NameAddr>, Error> {
    let bad = |why| Error::InvalidHeader { header: name, why };
    let mut routes = Vec::new();
    for line in headers.all(name) {
        for value in split_commas(line).ok_or(bad("unterminated quoted string"))? {
            let route = NameAddr::parse(value, name)?;
            if route.uri.as_sip().is_none() {
                return Err(bad("not a SIP or SIPS URI"));
            }
            routes.push(route);
        }
    }
    Ok(routes)
}

/// The Request-URI, Route values and first hop of a request in a dialog (§12.2.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routing {
    pub(crate) request_uri: Uri,
    pub(crate) routes: Vec<String>,
    pub(crate) next_hop: NextHop,
}

pub(crate) fn route(route_set: &[NameAddr], remote_target: &Uri) -> Result<Routing, Error> {
    let Some(first) = route_set.first() else {
        return Ok(Routing {
            request_uri: remote_target.clone(),
            routes: Vec::new(),
            next_hop: NextHop::of(remote_target)?,
        });
    };
    let first_sip = first.uri.as_sip().ok_or(Error::NotSipTarget)?;
    if first_sip.params.contains("lr") {
        // Loose routing: the target stays in the Request-URI, the route set goes in Route.
        return Ok(Routing {
            request_uri: remote_target.clone(),
            routes: route_set.iter().map(ToString::to_string).collect(),
            next_hop: NextHop::of(&first.uri)?,
        });
    }
    // Strict routing (an RFC 2543 proxy): the first route becomes the Request-URI, the rest
    // go in Route, and the remote target rides along as the last Route.
    let request_uri = request_uri_from(first_sip);
    let mut routes: Vec<String> = route_set[1..].iter().map(ToString::to_string).collect();
    routes.push(format!("<{remote_target}>"));
    Ok(Routing {
        next_hop: NextHop::of(&request_uri)?,
        request_uri,
        routes,
    })
}

/// A route URI made fit for a Request-URI: §12.2.1.1 strips the parameters §19.1.1 does not
/// allow there (`method`) and the headers.
fn request_uri_from(uri: &SipUri) -> Uri {
    let text = uri.as_str();
    let text = text.split('?').next().unwrap_or(text);
    let host_start = text.rfind('@').map_or(0, |at| at + 1);
    let params_start = text[host_start..]
        .find(';')
        .map_or(text.len(), |i| host_start + i);
    let (base, params) = text.split_at(params_start);
    let mut rebuilt = base.to_owned();
    for param in params.split(';').filter(|p| !p.is_empty()) {
        let name = param.split('=').next().unwrap_or(param);
        if !name.trim().eq_ignore_ascii_case("method") {
            rebuilt.push(';');
            rebuilt.push_str(param);
        }
    }
    SipUri::parse(&rebuilt).map_or_else(|| Uri::Sip(uri.clone()), Uri::Sip)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        Uri::parse(text, "Route").unwrap()
    }

    #[test]
    fn next_hop_defaults_ports_and_transports() {
        let hop = NextHop::of(&uri("sip:10.0.0.1;transport=TCP;lr")).unwrap();
        assert_eq!(hop.transport, "tcp");
        assert_eq!(hop.addr, Some("10.0.0.1:5060".parse().unwrap()));
        let hop = NextHop::of(&uri("sips:[2001:db8::1]")).unwrap();
        assert_eq!(hop.transport, "tls");
        assert_eq!(hop.addr, Some("[2001:db8::1]:5061".parse().unwrap()));
        let hop = NextHop::of(&uri("sip:proxy.example.com:5070")).unwrap();
        assert_eq!(hop.addr, None);
        assert_eq!(hop.port, Some(5070));
        assert_eq!(hop.host, Host::Name("proxy.example.com".into()));
        let hop = NextHop::of(&uri("sip:proxy.example.com;maddr=192.0.2.9")).unwrap();
        assert_eq!(hop.addr, Some("192.0.2.9:5060".parse().unwrap()));
        assert_eq!(
            NextHop::of(&uri("tel:+15551234567")),
            Err(Error::NotSipTarget)
        );
    }

    #[test]
    fn strict_route_loses_method_and_headers_in_the_request_uri() {
        let sip = SipUri::parse("sip:p1.example.com;method=INVITE;transport=tcp?X=1").unwrap();
        assert_eq!(
            request_uri_from(&sip).to_string(),
            "sip:p1.example.com;transport=tcp"
        );
    }

    #[test]
    fn malformed_record_routes_are_errors() {
        for bad in [
            "<sip:p1.example.com;lr",
            "<tel:+1555>",
            "\"open <sip:a@b>",
            "",
        ] {
            let mut headers = Headers::new();
            headers.push("Record-Route", bad);
            assert!(parse_route_set(&headers, "Record-Route").is_err(), "{bad}");
        }
    }
}
