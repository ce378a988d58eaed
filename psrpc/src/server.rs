//! Serving a queued method: take the queue lock for a request (only when we would serve it),
//! bid for it, and run the handler once the client awards it to us, answering with its
//! result or its error.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::bus::{Bus, BusError};
use crate::channel::{self, Method};
use crate::error::RpcError;
use crate::id::new_id;
use crate::message::{ClaimRequest, ClaimResponse, Envelope, Request, Response, unix_nanos};

/// What a handler gives back: the response message's bytes, or an error.
pub type Reply = Result<Vec<u8>, RpcError>;

/// A method's handler: the request message's bytes and the request's deadline in, the reply
/// out.
pub type Handler =
    Arc<dyn Fn(Vec<u8>, SystemTime) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Whether this node takes new requests now (not over its limits, not draining).
pub type Accepting = Arc<dyn Fn() -> bool + Send + Sync>;

/// A method served by this node: its service, method and topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub service: String,
    pub method: String,
    pub topic: Vec<String>,
}

impl Served {
    fn channels(&self) -> Method<'_> {
        Method {
            service: &self.service,
            method: &self.method,
            topic: &self.topic,
        }
    }
}

/// One node's server identity on the bus.
#[derive(Debug, Clone)]
pub struct Server {
    bus: Bus,
    id: String,
}

/// A method being served; dropping it stops serving.
#[derive(Debug)]
pub struct Serving(JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Server {
    pub fn new(bus: Bus) -> Self {
        Self {
            bus,
            id: new_id("SRV_"),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Serves `served` until the returned [`Serving`] is dropped. A request is taken only
    /// while `accepting` says so: otherwise its lock is left for another node.
    pub async fn serve(
        &self,
        served: Served,
        accepting: Accepting,
        handler: Handler,
    ) -> Result<Serving, BusError> {
        let requests = self
            .bus
            .subscribe(&served.channels().request_channel())
            .await?;
        let awards = self
            .bus
            .subscribe(&served.channels().claim_award_channel())
            .await?;
        let method = MethodServer {
            server: self.clone(),
            served,
            accepting,
            handler,
            bids: HashMap::new(),
        };
        Ok(Serving(tokio::spawn(method.run(requests, awards))))
    }
}

/// The requests we bid for, waiting for the client's award.
struct MethodServer {
    server: Server,
    served: Served,
    accepting: Accepting,
    handler: Handler,
    bids: HashMap<String, Request>,
}

impl MethodServer {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Vec<u8>>,
        mut awards: mpsc::Receiver<Vec<u8>>,
    ) {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                payload = requests.recv() => match payload {
                    Some(payload) => self.request(payload).await,
                    None => return,
                },
                payload = awards.recv() => match payload {
                    Some(payload) => self.award(&payload),
                    None => return,
                },
                _ = sweep.tick() => {
                    // An award that never came: the client chose another node or gave up.
                    let now = unix_nanos(SystemTime::now());
                    self.bids.retain(|_, request| request.expiry > now);
                }
            }
        }
    }

    /// A request on the method's channel: lock, check, bid.
    async fn request(&mut self, payload: Vec<u8>) {
        if !(self.accepting)() {
            return;
        }
        match self.server.bus.lock(&payload).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => return tracing::warn!(%error, "psrpc: queue lock failed"),
        }
        let request = match Envelope::decode(&payload) {
            Ok(Envelope::Request(request)) => request,
            Ok(_) | Err(_) => return,
        };
        if request.expiry <= unix_nanos(SystemTime::now()) {
            return;
        }
        let bid = Envelope::ClaimRequest(ClaimRequest {
            request_id: request.request_id.clone(),
            server_id: self.server.id.clone(),
            affinity: 1.0,
        });
        let channel = channel::claim_bid_channel(&self.served.service, &request.client_id);
        if let Err(error) = self.server.bus.publish(&channel, bid.encode()).await {
            return tracing::warn!(%error, "psrpc: bid not sent");
        }
        self.bids.insert(request.request_id.clone(), request);
    }

    /// The client's award: ours, another node's, or for a request we never bid for.
    fn award(&mut self, payload: &[u8]) {
        let Ok(Envelope::ClaimResponse(ClaimResponse {
            request_id,
            server_id,
        })) = Envelope::decode(payload)
        else {
            return;
        };
        let Some(request) = self.bids.remove(&request_id) else {
            return;
        };
        if server_id != self.server.id {
            return;
        }
        let handler = self.handler.clone();
        let server = self.server.clone();
        let service = self.served.service.clone();
        tokio::spawn(async move {
            let deadline =
                UNIX_EPOCH + Duration::from_nanos(u64::try_from(request.expiry).unwrap_or(0));
            let reply = handler(request.raw_request, deadline).await;
            let response = response(&request.request_id, &server.id, reply);
            let channel = channel::response_channel(&service, &request.client_id);
            if let Err(error) = server.bus.publish(&channel, response.encode()).await {
                tracing::warn!(%error, "psrpc: response not sent");
            }
        });
    }
}

fn response(request_id: &str, server_id: &str, reply: Reply) -> Envelope {
    let mut response = Response {
        request_id: request_id.to_owned(),
        server_id: server_id.to_owned(),
        sent_at: unix_nanos(SystemTime::now()),
        ..Response::default()
    };
    match reply {
        Ok(bytes) => response.raw_response = bytes,
        Err(error) => {
            // An empty message would read as success.
            response.error = if error.message.is_empty() {
                error.code.as_str().to_owned()
            } else {
                error.message
            };
            response.code = error.code.as_str().to_owned();
            response.error_details = error.details;
        }
    }
    Envelope::Response(response)
}
