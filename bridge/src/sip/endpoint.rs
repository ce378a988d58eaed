//! The SIP endpoint task: one task that owns the SIP state of the whole bridge and runs it
//! over the [`Transports`]. It parses what arrives, answers what never reaches a
//! transaction (malformed requests, RFC 3261 §8.2 refusals, OPTIONS), and drops what cannot
//! be answered, counting everything.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sipbridge_config::Config;
use sipbridge_signaling::message::{
    Limits, Malformed, Message, Method, Request, Response, is_keepalive, parse_message,
};
use sipbridge_signaling::screen::{
    ALLOWED_METHODS, Rejection, SUPPORTED, response_is_for_us, screen_request,
};
use tokio::sync::mpsc;

use super::transport::{Inbound, Protocol, Transports};
use crate::metrics::Metrics;

#[derive(Debug)]
pub struct Endpoint {
    config: Arc<Config>,
    transports: Transports,
    metrics: Arc<Metrics>,
    limits: Limits,
}

impl Endpoint {
    pub fn new(config: Arc<Config>, transports: Transports, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            transports,
            metrics,
            limits: Limits::default(),
        }
    }

    /// Runs until every sender of `inbound` is gone.
    pub async fn run(mut self, mut inbound: mpsc::Receiver<Inbound>) {
        while let Some(input) = inbound.recv().await {
            match input {
                Inbound::Message {
                    bytes,
                    source,
                    protocol,
                } => self.handle_message(&bytes, source, protocol),
                Inbound::Unreachable {
                    destination,
                    detail,
                } => tracing::debug!(%destination, %detail, "SIP destination unreachable"),
            }
        }
    }

    fn handle_message(&mut self, bytes: &[u8], source: SocketAddr, protocol: Protocol) {
        if protocol == Protocol::Udp && is_keepalive(bytes) {
            return;
        }
        match parse_message(bytes, &self.limits) {
            Ok(Message::Request(request)) => self.handle_request(request, source, protocol),
            Ok(Message::Response(response)) => self.handle_response(response),
            Err(malformed) => self.answer_malformed(malformed, source, protocol),
        }
    }

    fn handle_request(&mut self, request: Request, source: SocketAddr, protocol: Protocol) {
        let method = match &request.method {
            Method::Other(_) => "other".to_owned(),
            known => known.as_str().to_owned(),
        };
        self.metrics
            .sip_requests
            .get_or_create(&vec![("method", method)])
            .inc();
        if let Err(rejection) = screen_request(&request) {
            // An ACK is never answered (RFC 3261 §17.2.3).
            if request.method != Method::Ack {
                self.refuse(&request, &rejection, source, protocol);
            }
            return;
        }
        match request.method {
            Method::Options => self.answer_options(&request, source, protocol),
            Method::Ack => {}
            _ => {
                let rejection = Rejection {
                    code: 480,
                    reason: "Temporarily Unavailable".into(),
                    headers: Vec::new(),
                };
                self.refuse(&request, &rejection, source, protocol);
            }
        }
    }

    fn handle_response(&mut self, response: Response) {
        if !response_is_for_us(&response) {
            self.count_drop("not_for_us");
        }
    }

    /// OPTIONS is how carriers probe a trunk: answer it with what we accept (RFC 3261 §11.2).
    fn answer_options(&self, request: &Request, source: SocketAddr, protocol: Protocol) {
        let mut response = Response::to(request, 200, None);
        let headers = &mut response.head.other;
        headers.push("Allow", ALLOWED_METHODS);
        headers.push("Accept", "application/sdp");
        headers.push("Supported", SUPPORTED.join(", "));
        headers.push("Server", self.config.sip.user_agent.clone());
        self.send_response(response, source, protocol);
    }

    fn refuse(
        &self,
        request: &Request,
        rejection: &Rejection,
        source: SocketAddr,
        protocol: Protocol,
    ) {
        let status = rejection.code.to_string();
        self.metrics
            .sip_requests_refused
            .get_or_create(&vec![("status", status)])
            .inc();
        let mut response = Response::to(request, rejection.code, Some(&rejection.reason));
        for (name, value) in &rejection.headers {
            response.head.other.push(name, value.clone());
        }
        self.send_response(response, source, protocol);
    }

    fn answer_malformed(&self, malformed: Malformed, source: SocketAddr, protocol: Protocol) {
        let Some(reply) = malformed.reply else {
            tracing::debug!(%source, error = %malformed.error, "dropped an unanswerable SIP message");
            self.count_drop("malformed");
            return;
        };
        let (code, reason) = malformed.error.status();
        tracing::debug!(%source, %code, %reason, "refused a malformed SIP request");
        self.metrics
            .sip_requests_refused
            .get_or_create(&vec![("status", code.to_string())])
            .inc();
        let bytes = reply.response_bytes(code, &reason, &[]);
        self.transports.send(source, protocol, Bytes::from(bytes));
    }

    /// Responses go back where the request came from (RFC 3581 symmetric response routing,
    /// and the connection it arrived on for TCP), with `received`/`rport` in the top Via.
    fn send_response(&self, mut response: Response, source: SocketAddr, protocol: Protocol) {
        if let Some(top) = response.head.via.first_mut() {
            top.stamp_source(source);
        }
        self.transports
            .send(source, protocol, Bytes::from(response.to_bytes()));
    }

    fn count_drop(&self, reason: &'static str) {
        self.metrics
            .sip_dropped
            .get_or_create(&vec![("reason", reason)])
            .inc();
    }
}
