//! Who may call: `Authorization: Bearer <JWT>` signed with the LiveKit API secret, carrying
//! the grant the method needs — what livekit-server checks before it forwards a SIP request.

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use livekit_api::access_token::{AccessTokenError, Claims, TokenVerifier};

use super::error::{ApiError, TwirpCode};

/// The claims of the request's bearer token, or `unauthenticated` saying what is wrong with
/// it. The messages never repeat the token.
pub(crate) fn authenticate(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
) -> Result<Claims, ApiError> {
    let token = bearer_token(headers)?;
    verifier.verify(token).map_err(|error| {
        let why = match &error {
            AccessTokenError::Encoding(jwt) => match jwt.kind() {
                ErrorKind::ExpiredSignature => "the access token has expired".to_owned(),
                ErrorKind::ImmatureSignature => {
                    "the access token is not valid yet (nbf is in the future)".to_owned()
                }
                ErrorKind::InvalidSignature => {
                    "the access token's signature does not match the API secret".to_owned()
                }
                ErrorKind::InvalidIssuer => {
                    "the access token was issued for another API key".to_owned()
                }
                ErrorKind::InvalidAlgorithm => {
                    "the access token is not signed with HS256".to_owned()
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("the access token has no {claim:?} claim")
                }
                _ => format!("the access token is malformed: {jwt}"),
            },
            other => format!("the access token was refused: {other}"),
        };
        ApiError::new(TwirpCode::Unauthenticated, why)
    })
}

/// `permission_denied` unless the token grants `sip.call`, the grant livekit-server requires
/// for CreateSIPParticipant and TransferSIPParticipant (`sip.admin` does not imply it).
pub(crate) fn require_sip_call(claims: &Claims, method: &str) -> Result<(), ApiError> {
    if claims.sip.call {
        Ok(())
    } else {
        Err(ApiError::new(
            TwirpCode::PermissionDenied,
            format!("{method} requires the sip.call grant"),
        ))
    }
}

/// `permission_denied` unless the token grants `roomAdmin` for `room`, which livekit-server
/// requires for TransferSIPParticipant (the SDKs mint it so).
pub(crate) fn require_room_admin(
    claims: &Claims,
    room: &str,
    method: &str,
) -> Result<(), ApiError> {
    let video = &claims.video;
    if video.room_admin && video.room == room {
        return Ok(());
    }
    let why = if video.room_admin {
        format!(
            "{method} requires the roomAdmin grant for room {room:?}; the token's is for {:?}",
            video.room
        )
    } else {
        format!("{method} requires the roomAdmin grant for room {room:?}")
    };
    Err(ApiError::new(TwirpCode::PermissionDenied, why))
}

/// The token of an `Authorization: Bearer …` header. The scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let unauthenticated = |msg: &str| ApiError::new(TwirpCode::Unauthenticated, msg);
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        unauthenticated("missing Authorization header: send \"Bearer <access token>\"")
    })?;
    let value = value
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
    let value = value.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthenticated(
            "the Authorization header must use the Bearer scheme",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthenticated("the Authorization header has no token"));
    }
    Ok(token)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use livekit_api::access_token::{AccessToken, SIPGrants};

    pub(crate) const KEY: &str = "APItestkey";
    pub(crate) const SECRET: &str = "a-test-secret-of-enough-length-for-hs256";

    pub(crate) fn verifier() -> TokenVerifier {
        TokenVerifier::with_api_key(KEY, SECRET)
    }

    /// A token from `key`/`secret` with the given SIP grants.
    pub(crate) fn token(key: &str, secret: &str, sip: SIPGrants) -> String {
        AccessToken::with_api_key(key, secret)
            .with_sip_grants(sip)
            .to_jwt()
            .unwrap()
    }

    pub(crate) fn call_token() -> String {
        token(
            KEY,
            SECRET,
            SIPGrants {
                admin: false,
                call: true,
            },
        )
    }

    /// A correctly signed token whose `exp` passed well beyond the verifier's 60 s leeway.
    pub(crate) fn expired_token() -> String {
        // Minting any token first installs livekit-token's HMAC provider, which
        // jsonwebtoken needs before `encode`.
        let _ = call_token();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as usize;
        let claims = Claims {
            exp: now - 3600,
            nbf: now - 7200,
            iss: KEY.to_owned(),
            sip: SIPGrants {
                admin: false,
                call: true,
            },
            ..Claims::default()
        };
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    }

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn refusal(headers: &HeaderMap) -> String {
        let error = authenticate(&verifier(), headers).unwrap_err();
        assert_eq!(error.code, TwirpCode::Unauthenticated, "{error}");
        error.msg
    }

    #[test]
    fn a_token_signed_with_the_secret_is_accepted_whatever_the_scheme_case() {
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let headers = with_authorization(&format!("{scheme} {}", call_token()));
            let claims = authenticate(&verifier(), &headers).unwrap();
            assert!(claims.sip.call);
        }
    }

    #[test]
    fn each_refusal_says_what_is_wrong() {
        let cases = [
            (HeaderMap::new(), "missing Authorization header"),
            (with_authorization("Basic dXNlcjpwYXNz"), "Bearer scheme"),
            (with_authorization("Bearer "), "no token"),
            (with_authorization("Bearer not.a.jwt"), "malformed"),
            (
                with_authorization(&format!("Bearer {}", expired_token())),
                "has expired",
            ),
            (
                with_authorization(&format!(
                    "Bearer {}",
                    token(
                        KEY,
                        "another-secret-of-enough-length",
                        SIPGrants {
                            admin: false,
                            call: true
                        }
                    )
                )),
                "signature does not match",
            ),
            (
                with_authorization(&format!(
                    "Bearer {}",
                    token(
                        "APIother",
                        SECRET,
                        SIPGrants {
                            admin: false,
                            call: true
                        }
                    )
                )),
                "another API key",
            ),
        ];
        for (headers, expected) in cases {
            let msg = refusal(&headers);
            assert!(msg.contains(expected), "{msg:?} lacks {expected:?}");
        }
    }

    #[test]
    fn the_sip_call_grant_is_required_and_admin_is_not_enough() {
        let admin = token(
            KEY,
            SECRET,
            SIPGrants {
                admin: true,
                call: false,
            },
        );
        let claims = verifier().verify(&admin).unwrap();
        let error = require_sip_call(&claims, "CreateSIPParticipant").unwrap_err();
        assert_eq!(error.code, TwirpCode::PermissionDenied);
        assert_eq!(
            error.msg,
            "CreateSIPParticipant requires the sip.call grant"
        );
        let claims = verifier().verify(&call_token()).unwrap();
        assert_eq!(require_sip_call(&claims, "CreateSIPParticipant"), Ok(()));
    }
}
