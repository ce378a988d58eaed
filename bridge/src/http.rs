//! The HTTP listener: `/health`, `/metrics` (and, in a later issue, the Twirp `livekit.SIP` API).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::health::{Health, Readiness};
use crate::metrics::Metrics;

#[derive(Clone, Debug)]
pub(crate) struct HttpState {
    pub(crate) health: Health,
    pub(crate) metrics: Arc<Metrics>,
}

pub(crate) fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn health(State(state): State<HttpState>) -> Response {
    let readiness = state.health.get();
    let status = match readiness {
        Readiness::Ready => StatusCode::OK,
        Readiness::Starting | Readiness::Draining => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, format!("{}\n", readiness.as_str())).into_response()
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
        let state = HttpState {
            health: Health::default(),
            metrics: Arc::new(Metrics::new()),
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
