//! One Twirp request, checked in the order a twirp server and then livekit-server check it:
//! POST, a `livekit.SIP` method we serve, a body encoding we speak, a valid token, the grant
//! the method needs, a body that decodes. Then the service runs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use livekit_api::access_token::TokenVerifier;
use livekit_protocol::{CreateSipParticipantRequest, TransferSipParticipantRequest};

use super::codec::Encoding;
use super::error::{ApiError, TwirpCode};
use super::{SipService, auth};

/// The path prefix every official SDK uses (twirp's default).
const PREFIX: &str = "/twirp/";

/// The proto package and service of the API.
const SERVICE: &str = "livekit.SIP";

/// The methods of `service SIP` in livekit_sip.proto (livekit-protocol 0.8.2; the deleted
/// CreateSIPTrunk is not one). Those we do not serve are `unimplemented`, which tells a caller
/// the bridge knows the method, where `bad_route` would suggest a wrong URL.
const SIP_METHODS: [&str; 16] = [
    "ListSIPTrunk",
    "CreateSIPInboundTrunk",
    "CreateSIPOutboundTrunk",
    "UpdateSIPInboundTrunk",
    "UpdateSIPOutboundTrunk",
    "GetSIPInboundTrunk",
    "GetSIPOutboundTrunk",
    "ListSIPInboundTrunk",
    "ListSIPOutboundTrunk",
    "DeleteSIPTrunk",
    "CreateSIPDispatchRule",
    "UpdateSIPDispatchRule",
    "ListSIPDispatchRule",
    "DeleteSIPDispatchRule",
    "CreateSIPParticipant",
    "TransferSIPParticipant",
];

/// Largest request body read. The requests are a few hundred bytes (SIP headers to add
/// included); the cap only keeps an authenticated client from making us buffer without end.
const BODY_LIMIT: usize = 1 << 20;

/// The methods served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    CreateSipParticipant,
    TransferSipParticipant,
}

impl Route {
    const SERVED: [Self; 2] = [Self::CreateSipParticipant, Self::TransferSipParticipant];

    const fn name(self) -> &'static str {
        match self {
            Self::CreateSipParticipant => "CreateSIPParticipant",
            Self::TransferSipParticipant => "TransferSIPParticipant",
        }
    }
}

/// Answers one request under [`PREFIX`]: the method's response, or a Twirp error.
pub(crate) async fn handle(
    verifier: &TokenVerifier,
    sip: Option<&Arc<dyn SipService>>,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    match serve(verifier, sip, request).await {
        Ok(response) => response,
        Err(error) => {
            // Debug only: a refusal is the caller's business, and the message of a SIP
            // failure may carry a phone number: phone numbers are personal data, logged only at debug.
            tracing::debug!(%path, code = %error.code, msg = %error.msg, "API request failed");
            error.into_response()
        }
    }
}

async fn serve(
    verifier: &TokenVerifier,
    sip: Option<&Arc<dyn SipService>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(ApiError::new(
            TwirpCode::BadRoute,
            format!(
                "unsupported method {:?} (only POST is allowed)",
                parts.method.as_str()
            ),
        ));
    }
    let route = route(parts.uri.path())?;
    let encoding = Encoding::from_headers(&parts.headers)?;
    let claims = auth::authenticate(verifier, &parts.headers)?;
    // Both methods need the sip.call grant (livekit-server asks no less).
    auth::require_sip_call(&claims, route.name())?;
    let service = available(sip, route)?;
    match route {
        Route::CreateSipParticipant => {
            let request: CreateSipParticipantRequest = encoding.decode(&read(body).await?)?;
            // Awaited in place, never spawned: when hyper drops the handler because the
            // client went away, the call's future goes with it.
            let info = service.create_sip_participant(request).await?;
            encoding.respond(&info)
        }
        Route::TransferSipParticipant => {
            let request: TransferSipParticipantRequest = encoding.decode(&read(body).await?)?;
            // The room is in the body, so this grant is checked after decoding it.
            auth::require_room_admin(&claims, &request.room_name, route.name())?;
            let response = service.transfer_sip_participant(request).await?;
            encoding.respond(&response)
        }
    }
}

/// The method a path names, if we serve it.
fn route(path: &str) -> Result<Route, ApiError> {
    let no_handler = || ApiError::new(TwirpCode::BadRoute, format!("no handler for path {path:?}"));
    let (service, method) = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(no_handler)?;
    if service != SERVICE || !SIP_METHODS.contains(&method) {
        return Err(no_handler());
    }
    Route::SERVED
        .into_iter()
        .find(|route| route.name() == method)
        .ok_or_else(|| {
            ApiError::new(
                TwirpCode::Unimplemented,
                format!("{SERVICE}/{method} is not implemented by this bridge"),
            )
        })
}

/// The service, or `unavailable` when this bridge was started without one.
fn available(
    sip: Option<&Arc<dyn SipService>>,
    route: Route,
) -> Result<&Arc<dyn SipService>, ApiError> {
    sip.ok_or_else(|| {
        ApiError::new(
            TwirpCode::Unavailable,
            format!(
                "{SERVICE}/{} is not available: this bridge has no SIP service",
                route.name()
            ),
        )
    })
}

async fn read(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        ApiError::new(
            TwirpCode::Malformed,
            format!("the request body could not be read: {e}"),
        )
    })
}
