//! The HTTP listener: `/health`, `/metrics` and the Twirp `livekit.SIP` API (`/twirp/…`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use livekit_api::access_token::TokenVerifier;

use crate::api::{self, SipService};
use crate::health::{Health, Readiness};
use crate::metrics::Metrics;
use sipbridge_signaling::outcome::Overload;

#[derive(Clone)]
pub(crate) struct HttpState {
    pub(crate) health: Health,
    pub(crate) metrics: Arc<Metrics>,
    /// Checks API tokens against the configured LiveKit key and secret.
    pub(crate) verifier: TokenVerifier,
    /// What the `livekit.SIP` methods do; `None` answers them `unavailable`.
    pub(crate) sip: Option<Arc<dyn SipService>>,
    /// Whether the bridge is over its `limits:` now (new calls are refused).
    pub(crate) overload: Arc<dyn Fn() -> Option<Overload> + Send + Sync>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("health", &self.health)
            .field("metrics", &self.metrics)
            .field("verifier", &self.verifier)
            .field("sip", &self.sip.as_ref().map(|_| "SipService"))
            .finish()
    }
}

pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        // Every method, so that a GET gets Twirp's own `bad_route` rather than a bare 405.
        .route("/twirp/{*path}", any(twirp))
        .with_state(state)
}

async fn twirp(State(state): State<HttpState>, request: Request) -> Response {
    api::handle(&state.verifier, state.sip.as_ref(), request).await
}

/// 200 ready, 429 over its limits (it would refuse a new call now), 503 starting or
/// draining: what a load balancer needs to send new calls elsewhere.
async fn health(State(state): State<HttpState>) -> Response {
    let readiness = state.health.get();
    let (status, text) = match (readiness, (state.overload)()) {
        (Readiness::Ready, Some(Overload::TooManyCalls)) => {
            (StatusCode::TOO_MANY_REQUESTS, "busy: too many calls")
        }
        (Readiness::Ready, Some(Overload::Cpu)) => (StatusCode::TOO_MANY_REQUESTS, "busy: CPU"),
        (Readiness::Ready, None) => (StatusCode::OK, readiness.as_str()),
        (Readiness::Starting | Readiness::Draining, _) => {
            (StatusCode::SERVICE_UNAVAILABLE, readiness.as_str())
        }
    };
    (status, format!("{text}\n")).into_response()
}

async fn metrics(State(state): State<HttpState>) -> Response {
    match state.metrics.render() {
        Ok(text) => {
            let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(readiness: Readiness) -> HttpState {
        loaded(readiness, None)
    }

    fn loaded(readiness: Readiness, overload: Option<Overload>) -> HttpState {
        let state = HttpState {
            health: Health::default(),
            metrics: Arc::new(Metrics::new()),
            verifier: TokenVerifier::with_api_key("key", "secret"),
            sip: None,
            overload: Arc::new(move || overload),
        };
        state.health.set(readiness);
        state
    }

    #[tokio::test]
    async fn health_is_503_unless_ready() {
        for (readiness, expected) in [
            (Readiness::Starting, StatusCode::SERVICE_UNAVAILABLE),
            (Readiness::Ready, StatusCode::OK),
            (Readiness::Draining, StatusCode::SERVICE_UNAVAILABLE),
        ] {
            assert_eq!(
                health(State(state(readiness))).await.status(),
                expected,
                "{readiness:?}"
            );
        }
    }

    #[tokio::test]
    async fn health_is_429_over_the_limits_and_503_draining_whatever_the_load() {
        for (readiness, overload, expected) in [
            (
                Readiness::Ready,
                Some(Overload::TooManyCalls),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                Readiness::Ready,
                Some(Overload::Cpu),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            (
                Readiness::Draining,
                Some(Overload::Cpu),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            let response = health(State(loaded(readiness, overload))).await;
            assert_eq!(response.status(), expected, "{readiness:?} {overload:?}");
        }
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_text() {
        let response = metrics(State(state(Readiness::Ready))).await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
    }
}
