//! Calling a queued method: publish the request, award it to the first server that bids
//! (none within a second: `unavailable`), and wait for that server's response until the
//! request's own timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};

use crate::bus::{Bus, BusError};
use crate::channel::{self, Method};
use crate::error::{Code, RpcError};
use crate::id::new_id;
use crate::message::{ClaimResponse, Envelope, Request, Response, unix_nanos};

/// How long the client waits for a first bid.
pub const SELECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// A client of one service (its responses and bids come on channels named by its id).
#[derive(Debug, Clone)]
pub struct Client {
    bus: Bus,
    service: String,
    id: String,
    waiting: Arc<Mutex<HashMap<String, Waiting>>>,
}

/// A request in flight: where its first bid and its response go.
#[derive(Debug)]
struct Waiting {
    bid: Option<oneshot::Sender<String>>,
    response: Option<oneshot::Sender<Response>>,
}

impl Client {
    /// A client of `service`, listening for its bids and responses.
    pub async fn new(bus: Bus, service: &str) -> Result<Self, BusError> {
        let id = new_id("CLI_");
        let bids = bus
            .subscribe(&channel::claim_bid_channel(service, &id))
            .await?;
        let responses = bus
            .subscribe(&channel::response_channel(service, &id))
            .await?;
        let client = Self {
            bus,
            service: service.to_owned(),
            id,
            waiting: Arc::default(),
        };
        tokio::spawn(dispatch(client.waiting.clone(), bids, responses));
        Ok(client)
    }

    /// Calls `method` (on `topic`) with the request message's bytes; the response message's
    /// bytes, or the error, within `timeout`.
    pub async fn call(
        &self,
        method: &str,
        topic: &[String],
        request: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RpcError> {
        let rpc = Method {
            service: &self.service,
            method,
            topic,
        };
        let request_id = new_id("REQ_");
        let (bid_sender, bid) = oneshot::channel();
        let (response_sender, response) = oneshot::channel();
        self.lock_waiting().insert(
            request_id.clone(),
            Waiting {
                bid: Some(bid_sender),
                response: Some(response_sender),
            },
        );
        let result = self
            .exchange(&rpc, &request_id, request, timeout, (bid, response))
            .await;
        self.lock_waiting().remove(&request_id);
        result
    }

    async fn exchange(
        &self,
        rpc: &Method<'_>,
        request_id: &str,
        raw_request: Vec<u8>,
        timeout: Duration,
        (bid, response): (oneshot::Receiver<String>, oneshot::Receiver<Response>),
    ) -> Result<Vec<u8>, RpcError> {
        let now = SystemTime::now();
        let request = Envelope::Request(Request {
            request_id: request_id.to_owned(),
            client_id: self.id.clone(),
            sent_at: unix_nanos(now),
            expiry: unix_nanos(now + timeout),
            raw_request,
            ..Request::default()
        });
        let deadline = tokio::time::Instant::now() + timeout;
        self.publish(&rpc.request_channel(), request).await?;
        let selection = tokio::time::timeout(SELECTION_TIMEOUT.min(timeout), bid).await;
        let Ok(Ok(server_id)) = selection else {
            return Err(RpcError::new(Code::Unavailable, "no response from servers"));
        };
        let award = Envelope::ClaimResponse(ClaimResponse {
            request_id: request_id.to_owned(),
            server_id,
        });
        self.publish(&rpc.claim_award_channel(), award).await?;
        let response = match tokio::time::timeout_at(deadline, response).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => return Err(RpcError::new(Code::Canceled, "request canceled")),
            Err(_) => return Err(RpcError::new(Code::DeadlineExceeded, "request timed out")),
        };
        if response.error.is_empty() {
            return Ok(response.raw_response);
        }
        Err(RpcError {
            code: Code::parse(&response.code),
            message: response.error,
            details: response.error_details,
        })
    }

    async fn publish(&self, channel: &str, envelope: Envelope) -> Result<(), RpcError> {
        self.bus
            .publish(channel, envelope.encode())
            .await
            .map_err(|error| RpcError::new(Code::Unavailable, error.to_string()))
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Bids and responses to the requests waiting for them; the first bid wins.
async fn dispatch(
    waiting: Arc<Mutex<HashMap<String, Waiting>>>,
    mut bids: mpsc::Receiver<Vec<u8>>,
    mut responses: mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let payload = tokio::select! {
            payload = bids.recv() => payload,
            payload = responses.recv() => payload,
        };
        let Some(payload) = payload else {
            return;
        };
        let mut waiting = waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match Envelope::decode(&payload) {
            Ok(Envelope::ClaimRequest(bid)) => {
                if let Some(sender) = waiting.get_mut(&bid.request_id).and_then(|w| w.bid.take()) {
                    let _ = sender.send(bid.server_id);
                }
            }
            Ok(Envelope::Response(response)) => {
                if let Some(sender) = waiting
                    .get_mut(&response.request_id)
                    .and_then(|w| w.response.take())
                {
                    let _ = sender.send(response);
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
}
