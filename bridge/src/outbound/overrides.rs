//! What a CreateSIPParticipant caller may set beyond the number dialled: the INVITE's
//! Request-URI, To and From as written (`sip_request_uri`, `sip_to_header`,
//! `sip_from_header`), the To user (`to_user_override`), the From host (the inline trunk's
//! `from_host`), and the call's codecs and media timeout (`media`). Each is checked here — a
//! URI that parses, nothing that could break out of its header — and refused with
//! `invalid_argument` naming the field otherwise.

use std::time::Duration;

use livekit_protocol::{
    CreateSipParticipantRequest, SipCodec, SipNamedDest, SipRequestDest, SipTransport, SipUri,
    sip_named_dest, sip_request_dest,
};
use sipbridge_config::{Codec, Rtp};
use sipbridge_signaling::message::{Host, NameAddr, Param, SipUri as Uri, Uri as AnyUri};

use super::CreateError;
use crate::api::fields::duration;

/// The caller's choices; `None` keeps what the trunk and the YAML give.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The INVITE's Request-URI; the INVITE still goes to the trunk's address.
    pub request_uri: Option<AnyUri>,
    /// To and From, display name and URI (From keeps our tag).
    pub to: Option<NameAddr>,
    pub from: Option<NameAddr>,
    /// The To URI's user instead of the number dialled (the Request-URI keeps the number).
    pub to_user: Option<String>,
    /// The From URI's host instead of ours.
    pub from_host: Option<String>,
    /// The phone leg's codecs for this call, in order of preference: alone with
    /// `only_listed_codecs`, else before the YAML's.
    pub codecs: Option<Vec<Codec>>,
    pub only_listed_codecs: bool,
    pub media_timeout: Option<Duration>,
}

impl Overrides {
    pub(super) fn of(request: &CreateSipParticipantRequest) -> Result<Self, CreateError> {
        let invalid = CreateError::Invalid;
        let trunk = request.trunk.clone().unwrap_or_default();
        let media = request.media.clone().unwrap_or_default();
        Ok(Self {
            request_uri: request
                .sip_request_uri
                .as_ref()
                .map(|dest| request_uri(dest).map(AnyUri::Sip))
                .transpose()
                .map_err(|e| invalid(format!("sip_request_uri: {e}")))?,
            to: named("sip_to_header", request.sip_to_header.as_ref())?,
            from: named("sip_from_header", request.sip_from_header.as_ref())?,
            to_user: Some(request.to_user_override.clone())
                .filter(|user| !user.is_empty())
                .map(|user| super::plan::uri_user("to_user_override", &user))
                .transpose()?,
            from_host: Some(trunk.from_host)
                .filter(|host| !host.is_empty())
                .map(|host| {
                    checked_host(&host).map_err(|e| invalid(format!("trunk.from_host: {e}")))
                })
                .transpose()?,
            codecs: codecs(&media.codecs, media.only_listed_codecs)?,
            only_listed_codecs: media.only_listed_codecs,
            media_timeout: duration("media.media_timeout", media.media_timeout.as_ref())
                .map_err(invalid)?,
        })
    }

    /// The call's `rtp:` settings: the YAML's with this call's codecs and media timeout.
    pub fn rtp(&self, yaml: &Rtp) -> Rtp {
        let mut rtp = yaml.clone();
        if let Some(codecs) = &self.codecs {
            let mut all = codecs.clone();
            if !self.only_listed_codecs {
                all.extend(yaml.codecs.iter().filter(|codec| !codecs.contains(codec)));
            }
            rtp.codecs = all;
        }
        if let Some(timeout) = self.media_timeout {
            rtp.media_timeout.0 = timeout;
        }
        rtp
    }
}

/// `raw` (`<sip:user@host:port;transport=tcp>`, brackets optional) or `values`.
fn request_uri(dest: &SipRequestDest) -> Result<Uri, String> {
    match &dest.uri {
        Some(sip_request_dest::Uri::Raw(raw)) => raw_uri(raw),
        Some(sip_request_dest::Uri::Values(values)) => uri_of(values),
        None => Err("set raw or values".into()),
    }
}

fn raw_uri(raw: &str) -> Result<Uri, String> {
    if raw.chars().any(char::is_control) {
        return Err("control characters".into());
    }
    let text = raw.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    match Uri::parse(text) {
        Some(uri) if uri.secure => Err("sips: needs TLS, which sipbridge does not have".into()),
        Some(uri) if uri.has_headers => Err(format!("{text:?} carries headers")),
        Some(uri) => Ok(uri),
        None => Err(format!("{text:?} is not a sip: URI")),
    }
}

/// A URI from its parts: `host` (a name) or `ip`, the user, the port and the transport.
fn uri_of(values: &SipUri) -> Result<Uri, String> {
    let host = match (values.host.as_str(), values.ip.as_str()) {
        ("", "") => return Err("values: set host or ip".into()),
        (_, ip) if !ip.is_empty() => Host::Ip(
            ip.parse()
                .map_err(|_| format!("values.ip: {ip:?} is not an IP address"))?,
        ),
        (host, _) => Host::Name(checked_host(host)?),
    };
    let user = Some(values.user.as_str()).filter(|user| !user.is_empty());
    if let Some(user) = user
        && let Err(CreateError::Invalid(why)) = super::plan::uri_user("values.user", user)
    {
        return Err(why);
    }
    let port = u16::try_from(values.port)
        .map_err(|_| format!("values.port: {} is not a port", values.port))?;
    let transport = match SipTransport::try_from(values.transport) {
        Ok(SipTransport::Tcp) => Some("tcp"),
        Ok(SipTransport::Tls) => return Err("values.transport: TLS is not supported".into()),
        _ => None,
    };
    let params: Vec<Param> = transport
        .map(|name| Param {
            name: "transport".into(),
            value: Some(name.into()),
        })
        .into_iter()
        .collect();
    Ok(Uri::build(
        user,
        &host,
        (port != 0).then_some(port),
        &params,
    ))
}

/// A host name as DNS writes it.
fn checked_host(host: &str) -> Result<String, String> {
    if sipbridge_config::values::is_dns_name(host) || host.parse::<std::net::IpAddr>().is_ok() {
        Ok(host.to_owned())
    } else {
        Err(format!("{host:?} is not a host name"))
    }
}

/// To or From as the caller wrote it: its URI (raw or values) and display name.
fn named(field: &str, dest: Option<&SipNamedDest>) -> Result<Option<NameAddr>, CreateError> {
    let Some(dest) = dest else {
        return Ok(None);
    };
    let invalid = |why: String| CreateError::Invalid(format!("{field}: {why}"));
    let uri = match &dest.uri {
        Some(sip_named_dest::Uri::Raw(raw)) => raw_uri(raw),
        Some(sip_named_dest::Uri::Values(values)) => uri_of(values),
        None => Err("set raw or values".into()),
    }
    .map_err(invalid)?;
    let mut name_addr = NameAddr::new(AnyUri::Sip(uri));
    if !dest.display_name.is_empty() {
        name_addr.display_name = Some(super::invite::quoted(&dest.display_name));
    }
    Ok(Some(name_addr))
}

/// `media.codecs`: the listed codecs (names as SDP writes them, any case).
fn codecs(listed: &[SipCodec], only_listed: bool) -> Result<Option<Vec<Codec>>, CreateError> {
    if listed.is_empty() {
        return if only_listed {
            Err(CreateError::Invalid(
                "media.only_listed_codecs: no codec listed".into(),
            ))
        } else {
            Ok(None)
        };
    }
    let mut codecs = Vec::new();
    for codec in listed {
        let known = match codec.name.to_ascii_lowercase().as_str() {
            "pcmu" => (Codec::Pcmu, 8000),
            "pcma" => (Codec::Pcma, 8000),
            "g722" => (Codec::G722, 8000),
            "opus" => (Codec::Opus, 48000),
            "telephone-event" => (Codec::TelephoneEvent, 8000),
            _ => {
                return Err(CreateError::Invalid(format!(
                    "media.codecs: {:?} is not a codec sipbridge has (PCMU, PCMA, G722, opus, telephone-event)",
                    codec.name
                )));
            }
        };
        if codec.rate != 0 && codec.rate != known.1 {
            return Err(CreateError::Invalid(format!(
                "media.codecs: {} runs at {} Hz, not {}",
                codec.name, known.1, codec.rate
            )));
        }
        if !codecs.contains(&known.0) {
            codecs.push(known.0);
        }
    }
    if !codecs.iter().any(|codec| *codec != Codec::TelephoneEvent) {
        return Err(CreateError::Invalid(
            "media.codecs: no audio codec listed".into(),
        ));
    }
    Ok(Some(codecs))
}

#[cfg(test)]
#[path = "overrides_tests.rs"]
mod tests;
