//! A CreateSIPParticipant request checked and resolved into what the call needs: the trunk
//! (from the YAML or inline), the numbers, the participant, the extra headers and timers.
//! Everything the API caller got wrong is refused here, before any room or SIP traffic.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use livekit_protocol::{CreateSipParticipantRequest, SipHeaderOptions, SipTransport};
use sipbridge_config::values::HostPort;
use sipbridge_config::{Config, Transport};

use super::CreateError;
use super::overrides::Overrides;
use super::unbuilt::refuse_unbuilt;
use crate::api::fields::{check_header, duration, required, ringing_timeout};

/// The carrier side of the call.
#[derive(Debug, Clone)]
pub struct TrunkPlan {
    /// The YAML trunk's id; empty for an inline trunk.
    pub id: String,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    pub credentials: Option<(String, String)>,
    /// The trunk's own headers, then the request's.
    pub headers: Vec<(String, String)>,
    /// Headers of the 200 OK copied into participant attributes: (header, attribute).
    pub headers_to_attributes: Vec<(String, String)>,
    /// Participant attributes sent as headers of our BYE and REFER: (attribute, header).
    pub attributes_to_headers: Vec<(String, String)>,
}

/// Everything an outbound call is made of.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The call's id (`SCL_…`) when the caller chose it (livekit-server does, in cluster
    /// mode); else the bridge mints one.
    pub call_id: Option<String>,
    pub trunk: TrunkPlan,
    /// The number dialled (Request-URI and To user).
    pub to_number: String,
    /// Our number (From user).
    pub from_number: String,
    /// The From display name; `None` sends none.
    pub display_name: Option<String>,
    pub room: String,
    pub identity: String,
    pub name: String,
    pub metadata: String,
    pub attributes: HashMap<String, String>,
    pub hide_phone_number: bool,
    pub include_headers: SipHeaderOptions,
    pub dtmf: String,
    pub play_dialtone: bool,
    pub ringing_timeout: Duration,
    pub max_call_duration: Option<Duration>,
    pub wait_until_answered: bool,
    /// The caller's own Request-URI, To, From, codecs and media timeout, if any.
    pub overrides: Overrides,
}

impl Plan {
    pub fn new(config: &Config, request: CreateSipParticipantRequest) -> Result<Self, CreateError> {
        refuse_unbuilt(&request)?;
        let overrides = Overrides::of(&request)?;
        let to_number = uri_user("sip_call_to", &request.sip_call_to)?;
        let room = required("room_name", &request.room_name).map_err(CreateError::Invalid)?;
        let mut trunk = trunk_plan(config, &request)?;
        let from_number = from_number(config, &trunk, &request.sip_number)?;
        for (name, value) in sorted(&request.headers) {
            check_header(name, value, &[]).map_err(CreateError::Invalid)?;
            trunk.headers.push((name.clone(), value.clone()));
        }
        check_dtmf(&request.dtmf)?;
        let ringing_timeout =
            ringing_timeout(request.ringing_timeout.as_ref()).map_err(CreateError::Invalid)?;
        let max_call_duration = duration("max_call_duration", request.max_call_duration.as_ref())
            .map_err(CreateError::Invalid)?;
        let hide = request.hide_phone_number;
        let identity = match request.participant_identity.as_str() {
            "" if hide => format!("sip_{:016x}", rand::random::<u64>()),
            "" => format!("sip_{to_number}"),
            given => given.to_owned(),
        };
        let name = match request.participant_name.as_str() {
            "" if hide => "Phone".to_owned(),
            "" => format!("Phone {to_number}"),
            given => given.to_owned(),
        };
        // Unset: the number, as carriers show it; empty: none (the carrier's CNAM lookup).
        let display_name = match request.display_name {
            None => Some(from_number.clone()),
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
        };
        let include_headers =
            SipHeaderOptions::try_from(request.include_headers).map_err(|_| {
                CreateError::Invalid("include_headers is not a SIPHeaderOptions value".into())
            })?;
        Ok(Self {
            call_id: None,
            trunk,
            to_number,
            from_number,
            display_name,
            room,
            identity,
            name,
            metadata: request.participant_metadata,
            attributes: request.participant_attributes,
            hide_phone_number: hide,
            include_headers,
            dtmf: request.dtmf,
            play_dialtone: request.play_dialtone || {
                #[allow(deprecated)]
                request.play_ringtone
            },
            ringing_timeout,
            max_call_duration,
            wait_until_answered: request.wait_until_answered,
            overrides,
        })
    }
}

/// A number as the user part of a SIP URI goes unescaped (RFC 3261 §25.1 `user`): digits,
/// letters, `+` and the marks a dial string uses; `#`, `;`, `@` and the like are refused.
pub(super) fn uri_user(field: &str, value: &str) -> Result<String, CreateError> {
    let value = required(field, value).map_err(CreateError::Invalid)?;
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+-_.!~*'()&=$,?/".contains(*c)))
    {
        None => Ok(value),
        Some(c) => Err(CreateError::Invalid(format!(
            "{field}: {c:?} cannot be dialled in a SIP URI"
        ))),
    }
}

fn sorted(map: &HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort();
    entries
}

/// The YAML trunk named by `sip_trunk_id`, or the request's inline `trunk`.
fn trunk_plan(
    config: &Config,
    request: &CreateSipParticipantRequest,
) -> Result<TrunkPlan, CreateError> {
    match (&request.trunk, request.sip_trunk_id.as_str()) {
        (Some(_), id) if !id.is_empty() => Err(CreateError::Invalid(
            "give either sip_trunk_id or trunk, not both".into(),
        )),
        (None, "") => Err(CreateError::Invalid(
            "sip_trunk_id or trunk is required".into(),
        )),
        (None, id) => {
            let trunk = config
                .outbound_trunks
                .iter()
                .find(|t| t.id.as_str() == id)
                .ok_or_else(|| CreateError::NotFound(format!("no outbound trunk {id:?}")))?;
            Ok(TrunkPlan {
                id: id.to_owned(),
                host: trunk.address.host.clone(),
                port: trunk.address.port.unwrap_or(trunk.transport.default_port()),
                transport: trunk.transport,
                credentials: trunk
                    .auth
                    .as_ref()
                    .map(|a| (a.username.clone(), a.password.expose().to_owned())),
                headers: trunk
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect(),
                headers_to_attributes: trunk
                    .headers_to_attributes
                    .iter()
                    .map(|(name, attribute)| (name.as_str().to_owned(), attribute.clone()))
                    .collect(),
                attributes_to_headers: trunk
                    .attributes_to_headers
                    .iter()
                    .map(|(attribute, name)| (attribute.clone(), name.as_str().to_owned()))
                    .collect(),
            })
        }
        (Some(inline), _) => {
            let address = HostPort::from_str(inline.hostname.trim())
                .map_err(|error| CreateError::Invalid(format!("trunk.hostname: {error}")))?;
            let transport = match SipTransport::try_from(inline.transport) {
                Ok(SipTransport::Auto | SipTransport::Udp) => Transport::Udp,
                Ok(SipTransport::Tcp) => Transport::Tcp,
                Ok(SipTransport::Tls) => {
                    return Err(CreateError::Invalid(
                        "trunk.transport TLS is not supported yet".into(),
                    ));
                }
                Err(_) => {
                    return Err(CreateError::Invalid(
                        "trunk.transport is not a SIPTransport value".into(),
                    ));
                }
            };
            let credentials = (!inline.auth_username.is_empty())
                .then(|| (inline.auth_username.clone(), inline.auth_password.clone()));
            let mut attributes_to_headers = Vec::new();
            for (attribute, header) in sorted(&inline.attributes_to_headers) {
                check_header(header, "", &[]).map_err(|refused| {
                    CreateError::Invalid(format!("trunk.attributes_to_{refused}"))
                })?;
                attributes_to_headers.push((attribute.clone(), header.clone()));
            }
            Ok(TrunkPlan {
                id: String::new(),
                port: address.port.unwrap_or(transport.default_port()),
                host: address.host,
                transport,
                credentials,
                headers: Vec::new(),
                headers_to_attributes: sorted(&inline.headers_to_attributes)
                    .into_iter()
                    .map(|(name, attribute)| (name.clone(), attribute.clone()))
                    .collect(),
                attributes_to_headers,
            })
        }
    }
}

/// `sip_number`, which for a YAML trunk must be one of its numbers (the caller IDs the
/// carrier lets us present); the trunk's first number when empty.
fn from_number(config: &Config, trunk: &TrunkPlan, requested: &str) -> Result<String, CreateError> {
    let numbers: Vec<&str> = config
        .outbound_trunks
        .iter()
        .find(|t| !trunk.id.is_empty() && t.id.as_str() == trunk.id)
        .map(|t| t.numbers.iter().map(|n| n.as_str()).collect())
        .unwrap_or_default();
    match requested.trim() {
        "" => numbers.first().map(|n| (*n).to_owned()).ok_or_else(|| {
            CreateError::Invalid("sip_number is required with an inline trunk".into())
        }),
        number if numbers.is_empty() || numbers.contains(&number) => uri_user("sip_number", number),
        number => Err(CreateError::Invalid(format!(
            "sip_number {number:?} is not a number of trunk {:?}",
            trunk.id
        ))),
    }
}

fn check_dtmf(digits: &str) -> Result<(), CreateError> {
    match digits
        .chars()
        .find(|c| !"0123456789*#ABCDabcdw".contains(*c))
    {
        None => Ok(()),
        Some(c) => Err(CreateError::Invalid(format!(
            "dtmf: {c:?} is not a DTMF digit (0-9 * # A-D, w for a pause)"
        ))),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
