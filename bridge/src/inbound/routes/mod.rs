//! Where inbound calls go: the one seam between the two modes. Standalone, trunks and
//! dispatch rules come from the YAML ([`yaml::YamlRoutes`]); in cluster mode, livekit-server
//! decides over psrpc (`IOInfo`, [`cluster::ClusterRoutes`]). Everything else about the
//! call — digest auth, the PIN, the room, the outcome — is the same code for both.

pub mod cluster;
pub mod yaml;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use livekit_protocol::{RoomConfiguration, SipHeaderOptions};
use sipbridge_signaling::auth::Algorithm;
use sipbridge_signaling::message::{Request, Uri};
use sipbridge_signaling::transaction::Transport;

use super::admit::Refusal;

/// A boxed future, as the route sources return them.
pub type RouteFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The parts of an INVITE trunk and rule matching look at.
#[derive(Debug, Clone)]
pub struct CallFacts {
    /// Our id of the call (`SCL_…`), as in its record.
    pub call_id: String,
    /// The SIP Call-ID.
    pub sip_call_id: String,
    pub source: IpAddr,
    /// The caller's number (From user part).
    pub caller: String,
    /// The dialled number (Request-URI user part, else the To user part).
    pub called: String,
    /// The To header's user part (what livekit-server matches trunk numbers on).
    pub to_user: String,
    pub from_host: String,
    pub to_host: String,
    /// The Request-URI's host and port.
    pub request_host: String,
    pub request_port: u16,
    /// How the INVITE came.
    pub transport: Transport,
}

impl CallFacts {
    pub fn new(invite: &Request, call_id: String, source: IpAddr, transport: Transport) -> Self {
        let caller = number_of(&invite.head.from.uri);
        let called = match invite.uri.user() {
            Some(user) => user.to_owned(),
            None => number_of(&invite.head.to.uri),
        };
        let request = invite.uri.as_sip();
        Self {
            call_id,
            sip_call_id: invite.head.call_id.0.clone(),
            source,
            caller,
            called,
            to_user: number_of(&invite.head.to.uri),
            from_host: host_of(&invite.head.from.uri),
            to_host: host_of(&invite.head.to.uri),
            request_host: host_of(&invite.uri),
            request_port: request.and_then(|uri| uri.port).unwrap_or(5060),
            transport,
        }
    }
}

/// The user part of a URI: the phone number, usually; empty if there is none.
pub fn number_of(uri: &Uri) -> String {
    uri.user().unwrap_or_default().to_owned()
}

fn host_of(uri: &Uri) -> String {
    uri.as_sip()
        .map(|uri| uri.host.to_string())
        .unwrap_or_default()
}

/// The trunk a call arrives on.
#[derive(Debug, Clone)]
pub struct TrunkMatch {
    /// Empty when livekit-server matched no trunk but lets the rules decide.
    pub id: String,
    /// Digest credentials the caller must present (407), if any.
    pub credentials: Option<(String, String)>,
    /// The challenges offered, preferred first.
    pub algorithms: Vec<Algorithm>,
    /// SIP headers of the INVITE copied into participant attributes: (header, attribute).
    pub headers_to_attributes: Vec<(String, String)>,
    /// Participant attributes sent as headers of our BYE and REFER: (attribute, header).
    pub attributes_to_headers: Vec<(String, String)>,
    /// Which of the INVITE's other headers become `sip.h.<name>` attributes.
    pub include_headers: SipHeaderOptions,
}

/// What the dispatch rules say about a call.
#[derive(Debug, Clone)]
pub enum Dispatched {
    /// It goes to this room.
    Route(Box<Route>),
    /// Its rule wants a PIN, which the source checks: ask the caller, then dispatch again
    /// with what they keyed.
    AskPin {
        rule_id: String,
        /// How long the caller has to key it.
        timeout: Duration,
    },
}

/// Where an admitted call goes, and as whom.
#[derive(Debug, Clone)]
pub struct Route {
    pub trunk_id: String,
    pub rule_id: String,
    pub room: String,
    pub identity: String,
    /// `None`: the caller's display name, else the number.
    pub name: Option<String>,
    pub metadata: String,
    /// Besides the standard `sip.*` ones.
    pub attributes: HashMap<String, String>,
    /// SIP headers of the INVITE copied into participant attributes: (header, attribute).
    pub headers_to_attributes: Vec<(String, String)>,
    /// Participant attributes sent as headers of our BYE and REFER: (attribute, header).
    pub attributes_to_headers: Vec<(String, String)>,
    /// Which of the INVITE's other headers become `sip.h.<name>` attributes.
    pub include_headers: SipHeaderOptions,
    /// The caller's number stays out of the participant (name and `sip.*` attributes).
    pub hide_phone_number: bool,
    /// A PIN the bridge checks itself (standalone rules).
    pub pin: Option<String>,
    /// With a PIN: the time to key it.
    pub pin_timeout: Duration,
    /// Without a PIN: answer only once someone in the room subscribes to the caller's audio,
    /// within this long (the rule's `ringing_timeout`); `None`: as soon as it is in the room.
    pub listener_timeout: Option<Duration>,
    /// While waiting for a listener: ringback as early media in a 183, instead of a 180.
    pub early_media: bool,
    pub max_call_duration: Option<Duration>,
    /// The room the rule asks for (agents to dispatch and the like): into the join token.
    pub room_config: Option<RoomConfiguration>,
}

/// A source of trunks and dispatch rules.
pub trait Routes: std::fmt::Debug + Send + Sync {
    /// Which trunk takes the call, and the credentials it wants; or why none does.
    fn trunk<'a>(&'a self, call: &'a CallFacts) -> RouteFuture<'a, Result<TrunkMatch, Refusal>>;

    /// Where the call on `trunk` goes; `pin`: what the caller keyed when asked.
    fn dispatch<'a>(
        &'a self,
        call: &'a CallFacts,
        trunk: &'a TrunkMatch,
        pin: Option<&'a str>,
    ) -> RouteFuture<'a, Result<Dispatched, Refusal>>;
}
