//! What arrives from the network: requests matched to server transactions (§17.2.3) or
//! starting new ones, ACK and CANCEL routed to the INVITE they concern, merged requests
//! refused (§8.2.2.2), and responses matched to client transactions (§17.1.3).

use std::net::SocketAddr;
use std::time::Instant;

use super::key::{AckKey, ClientKey, MergeKey, ServerKey};
use super::layer::TransactionLayer;
use super::server::ServerTx;
use super::{Event, ServerTxId, Transport, TxId, local_response};
use crate::message::{Method, Request, Response};

impl TransactionLayer {
    /// A request from the network that passed `screen` checks. Retransmissions are
    /// absorbed or answered; ACK, CANCEL and merged requests are handled here; anything
    /// else becomes [`Event::Request`].
    pub fn handle_request(
        &mut self,
        now: Instant,
        mut request: Request,
        source: SocketAddr,
        transport: Transport,
    ) {
        // Without a Via there is nowhere to answer; the parser does not let one through.
        let Some(key) = ServerKey::of(&request, None) else {
            return;
        };
        if let Some(via) = request.head.via.first_mut() {
            via.stamp_source(source);
        }
        if request.method == Method::Ack {
            self.handle_ack(now, &key, request);
            return;
        }
        if let Some(id) = self.find_server(&key, &request) {
            if let Some(tx) = self.servers.get_mut(&id) {
                tx.on_retransmission(&mut self.out);
            }
            return;
        }
        // An RFC 2543 key taken by a request with another To tag: too ambiguous to
        // start a transaction whose retransmissions could not be told apart.
        if self.server_keys.contains_key(&key) {
            return;
        }
        // Responses go back where the request came from, on every transport. On TCP that is
        // the connection (RFC 3261 §18.2.2). On UDP RFC 3261 would use `received` and the
        // sent-by port unless the client asked for `rport` (RFC 3581); a trunk endpoint
        // answers the source address regardless (symmetric response routing, "forced
        // rport"): a PBX behind NAT writes an unreachable sent-by, and an SBC may send from
        // another port than it advertises. The Via still gets `received`/`rport` as the
        // RFCs say.
        let route = (source, transport);
        if request.method == Method::Cancel {
            self.handle_cancel(now, key, request, route);
            return;
        }
        let merge = MergeKey::of(&request);
        if merge
            .as_ref()
            .is_some_and(|m| self.merge_keys.contains_key(m))
        {
            self.answer_alone(now, key, &request, 482, None, route);
            return;
        }

        let id = ServerTxId(self.new_id());
        let mut tx = ServerTx::new(id, key.clone(), &request, route, false, now);
        if let Some(merge) = merge {
            self.merge_keys.insert(merge.clone(), id);
            tx.merge = Some(merge);
        }
        self.server_keys.insert(key, id);
        self.file_destination(route.0, TxId::Server(id));
        self.servers.insert(id, tx);
        self.settle_server(id);
        self.out.event(Event::Request {
            id,
            request,
            source,
            transport,
        });
    }

    /// A response from the network that passed `screen::response_is_for_us`.
    pub fn handle_response(&mut self, now: Instant, response: Response, transport: Transport) {
        let Some(key) = ClientKey::of_response(&response) else {
            return;
        };
        if let Some(&id) = self.client_keys.get(&key) {
            if let Some(tx) = self.clients.get_mut(&id) {
                tx.on_response(response, &self.timers, now, &mut self.out);
            }
            self.settle_client(id);
        } else if (200..300).contains(&response.code) && response.head.cseq.method == Method::Invite
        {
            // RFC 6026 §7.2: a 2xx without a transaction goes to the TU, which may hold
            // (or want to refuse) the dialog it creates.
            self.out.event(Event::StrayResponse {
                response,
                transport,
            });
        }
        // Anything else matches nothing we sent and is dropped (§18.1.2).
    }

    /// The transaction `request` belongs to. RFC 2543 keys leave out the To tag, which
    /// must equal the original request's, or for an ACK our response's (§17.2.3).
    fn find_server(&self, key: &ServerKey, request: &Request) -> Option<ServerTxId> {
        let id = *self.server_keys.get(key)?;
        if !key.is_rfc2543() {
            return Some(id);
        }
        let tx = self.servers.get(&id)?;
        let expected = if request.method == Method::Ack {
            &tx.response_to_tag
        } else {
            &tx.request_to_tag
        };
        (expected.as_deref() == request.head.to.tag()).then_some(id)
    }

    /// An ACK: for a non-2xx final it shares the INVITE's branch; for a 2xx it has its own
    /// and is found by dialog. One matching nothing (its transaction ended) is dropped.
    fn handle_ack(&mut self, now: Instant, key: &ServerKey, ack: Request) {
        let id = self
            .find_server(key, &ack)
            .or_else(|| self.ack_keys.get(&AckKey::of_ack(&ack)).copied());
        let Some(id) = id else {
            return;
        };
        if let Some(tx) = self.servers.get_mut(&id) {
            tx.on_ack(ack, &self.timers, now, &mut self.out);
        }
        self.settle_server(id);
    }

    /// §9.2: 200 and the TU told when the INVITE has no final yet; 200 without effect
    /// after one; 481 when no INVITE matches. The CANCEL is its own transaction (§17.2.3),
    /// so its retransmissions get the same answer.
    fn handle_cancel(
        &mut self,
        now: Instant,
        key: ServerKey,
        cancel: Request,
        route: (SocketAddr, Transport),
    ) {
        let invite = ServerKey::of(&cancel, Some(Method::Invite))
            .and_then(|invite_key| self.find_server(&invite_key, &cancel))
            .and_then(|id| self.servers.get(&id).map(|tx| (id, tx)));
        let (code, tag, cancelled) = match invite {
            Some((id, tx)) => {
                let cancelled = tx.is_cancellable().then_some(id);
                (200, tx.response_to_tag.clone(), cancelled)
            }
            None => (481, None, None),
        };
        self.answer_alone(now, key, &cancel, code, tag, route);
        if let Some(id) = cancelled {
            self.out.event(Event::Cancelled { id, cancel });
        }
    }

    /// A transaction the layer answers without the TU, with a tag of its own unless
    /// `to_tag` names the one the TU chose for the dialog.
    fn answer_alone(
        &mut self,
        now: Instant,
        key: ServerKey,
        request: &Request,
        code: u16,
        to_tag: Option<String>,
        route: (SocketAddr, Transport),
    ) {
        let id = ServerTxId(self.new_id());
        let mut tx = ServerTx::new(id, key.clone(), request, route, true, now);
        let to_tag = to_tag.unwrap_or_else(|| self.new_tag());
        let response = local_response(request, code, &to_tag);
        // A fresh transaction accepts any final status: this cannot fail.
        if tx
            .respond(&response, &self.timers, now, &mut self.out)
            .is_err()
        {
            return;
        }
        self.server_keys.insert(key, id);
        self.file_destination(route.0, TxId::Server(id));
        self.servers.insert(id, tx);
        self.settle_server(id);
    }
}
