//! The `Pair` driver (after quinn-proto's): a UAC layer and a UAS layer joined by a
//! simulated network on a virtual clock, with loss, duplication and reordering chosen per
//! packet, run to quiescence. Tests use only the layer's public API.
#![allow(clippy::unwrap_used)]

mod client;
mod matching;
mod server;
mod tu;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Event, ServerTxId, Timers, TransactionLayer, Transmit, Transport, TxId};
use crate::message::{Limits, Message, Request, Response, parse_message};

use tu::{acks_2xx, answers, reply, request, request_in};

pub(super) const UAC: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    5060,
);
pub(super) const UAS: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    5060,
);

/// What the network does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Deliver,
    Drop,
    Duplicate,
    /// Delivered this much later than it would have been: later packets overtake it.
    Delay(Duration),
}

/// One packet as sent, with what became of it.
#[derive(Debug, Clone)]
pub(super) struct Packet {
    /// Milliseconds after the start.
    pub(super) at: u64,
    pub(super) from: SocketAddr,
    /// The start line, e.g. `INVITE sip:…` or `SIP/2.0 486 Busy Here`.
    pub(super) line: String,
    /// The CSeq method.
    pub(super) method: String,
    pub(super) fate: Fate,
}

impl Packet {
    /// `start` prefixes the start line (`"ACK"`, `"SIP/2.0 200"`); `method` is the CSeq's.
    pub(super) fn is(&self, start: &str, method: &str) -> bool {
        self.line.starts_with(start) && self.method == method
    }
}

type Faults = Box<dyn FnMut(&Packet) -> Fate>;
/// A scripted TU: sees every event of its side and may act on its layer at once.
pub(super) type Hook = Box<dyn FnMut(Instant, &Event, &mut TransactionLayer)>;

/// One endpoint: its layer, the events its TU saw (with the millisecond), its script.
pub(super) struct Side {
    pub(super) layer: TransactionLayer,
    pub(super) events: Vec<(u64, Event)>,
    hook: Option<Hook>,
}

struct InFlight {
    at: Instant,
    order: usize,
    from: SocketAddr,
    transmit: Transmit,
}

struct Net {
    start: Instant,
    latency: Duration,
    faults: Faults,
    log: Vec<Packet>,
    in_flight: Vec<InFlight>,
    /// Copies put in flight so far: ties in delivery time go in sending order.
    copies: usize,
}

impl Net {
    fn send(&mut self, now: Instant, from: SocketAddr, transmit: Transmit) {
        let (line, method) = summary(&transmit.bytes);
        let mut packet = Packet {
            at: ms(self.start, now),
            from,
            line,
            method,
            fate: Fate::Deliver,
        };
        packet.fate = (self.faults)(&packet);
        let copies = match packet.fate {
            Fate::Deliver => vec![now + self.latency],
            Fate::Drop => vec![],
            Fate::Duplicate => vec![now + self.latency; 2],
            Fate::Delay(by) => vec![now + self.latency + by],
        };
        for at in copies {
            self.copies += 1;
            self.in_flight.push(InFlight {
                at,
                order: self.copies,
                from,
                transmit: transmit.clone(),
            });
        }
        self.log.push(packet);
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|p| p.at).min()
    }

    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        let index = (0..self.in_flight.len())
            .filter(|&i| self.in_flight[i].at <= now)
            .min_by_key(|&i| (self.in_flight[i].at, self.in_flight[i].order))?;
        Some(self.in_flight.remove(index))
    }
}

pub(super) struct Pair {
    pub(super) now: Instant,
    pub(super) transport: Transport,
    pub(super) uac: Side,
    pub(super) uas: Side,
    net: Net,
}

impl Pair {
    /// Both sides with default timers, zero latency, a lossless network.
    pub(super) fn new(transport: Transport) -> Self {
        let start = Instant::now();
        let side = |seed| Side {
            layer: TransactionLayer::new(Timers::default(), seed),
            events: Vec::new(),
            hook: None,
        };
        Self {
            now: start,
            transport,
            uac: side(1),
            uas: side(2),
            net: Net {
                start,
                latency: Duration::ZERO,
                faults: Box::new(|_| Fate::Deliver),
                log: Vec::new(),
                in_flight: Vec::new(),
                copies: 0,
            },
        }
    }

    pub(super) fn faults(&mut self, faults: impl FnMut(&Packet) -> Fate + 'static) {
        self.net.faults = Box::new(faults);
    }

    pub(super) fn uac_hook(
        &mut self,
        hook: impl FnMut(Instant, &Event, &mut TransactionLayer) + 'static,
    ) {
        self.uac.hook = Some(Box::new(hook));
    }

    pub(super) fn uas_hook(
        &mut self,
        hook: impl FnMut(Instant, &Event, &mut TransactionLayer) + 'static,
    ) {
        self.uas.hook = Some(Box::new(hook));
    }

    /// The UAC sends `request` to the UAS.
    pub(super) fn send(&mut self, request: Request) -> super::ClientTxId {
        let id = self
            .uac
            .layer
            .send_request(self.now, request, UAS, self.transport)
            .unwrap();
        self.pump();
        id
    }

    /// The UAS TU answers now.
    pub(super) fn respond(&mut self, id: ServerTxId, response: Response) {
        self.uas.layer.respond(self.now, id, response).unwrap();
        self.pump();
    }

    /// Runs until nothing is in flight and no timer is pending (at most 10 minutes).
    pub(super) fn run(&mut self) {
        let limit = self.net.start + Duration::from_secs(600);
        while let Some(next) = self.next_step() {
            assert!(next <= limit, "no quiescence after 10 minutes");
            self.step(next);
        }
    }

    /// Runs everything due up to `ms` after the start, then sets the clock there.
    pub(super) fn run_until(&mut self, ms: u64) {
        let limit = self.net.start + Duration::from_millis(ms);
        while let Some(next) = self.next_step().filter(|&next| next <= limit) {
            self.step(next);
        }
        self.now = self.now.max(limit);
    }

    fn next_step(&mut self) -> Option<Instant> {
        self.pump();
        [
            self.net.next_delivery(),
            self.uac.layer.poll_timeout(),
            self.uas.layer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Delivers what is due at `at`, then fires the timers due.
    fn step(&mut self, at: Instant) {
        self.now = self.now.max(at);
        while let Some(packet) = self.net.pop_due(self.now) {
            let side = match packet.transmit.destination {
                UAC => &mut self.uac,
                UAS => &mut self.uas,
                _ => continue,
            };
            let transport = packet.transmit.transport;
            match parse_message(&packet.transmit.bytes, &Limits::default()).unwrap() {
                Message::Request(request) => {
                    side.layer
                        .handle_request(self.now, request, packet.from, transport);
                }
                Message::Response(response) => {
                    side.layer.handle_response(self.now, response, transport);
                }
            }
            self.pump();
        }
        for side in [&mut self.uac, &mut self.uas] {
            if side.layer.poll_timeout().is_some_and(|t| t <= self.now) {
                side.layer.handle_timeout(self.now);
            }
        }
        self.pump();
    }

    /// Drains both layers: events to the TUs (and their hooks), transmits to the network.
    fn pump(&mut self) {
        let now = self.now;
        let start = self.net.start;
        loop {
            let mut busy = false;
            for (side, from) in [(&mut self.uac, UAC), (&mut self.uas, UAS)] {
                while let Some(event) = side.layer.poll_event() {
                    if let Some(hook) = side.hook.as_mut() {
                        hook(now, &event, &mut side.layer);
                    }
                    side.events.push((ms(start, now), event));
                    busy = true;
                }
                while let Some(transmit) = side.layer.poll_transmit() {
                    self.net.send(now, from, transmit);
                    busy = true;
                }
            }
            if !busy {
                return;
            }
        }
    }

    /// The milliseconds at which packets matching [`Packet::is`] were sent, lost or not.
    pub(super) fn sent(&self, start: &str, method: &str) -> Vec<u64> {
        self.net
            .log
            .iter()
            .filter(|p| p.is(start, method))
            .map(|p| p.at)
            .collect()
    }

    pub(super) fn log(&self) -> &[Packet] {
        &self.net.log
    }
}

impl Side {
    /// When each event of this kind came, e.g. `side.when(|e| matches!(e, Event::NoAck { .. }))`.
    pub(super) fn when(&self, pick: impl Fn(&Event) -> bool) -> Vec<u64> {
        self.events
            .iter()
            .filter(|(_, e)| pick(e))
            .map(|(at, _)| *at)
            .collect()
    }

    /// The status codes of the responses the TU was given, in order.
    pub(super) fn responses(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Response { response, .. } => Some(response.code),
                _ => None,
            })
            .collect()
    }

    /// When each transaction of the given kind ended.
    pub(super) fn terminated(&self, server: bool) -> Vec<u64> {
        self.when(|e| {
            matches!(e, Event::Terminated { id: TxId::Server(_) } if server)
                || matches!(e, Event::Terminated { id: TxId::Client(_) } if !server)
        })
    }

    /// The server transaction of the (only) request the TU was given.
    pub(super) fn request_id(&self) -> ServerTxId {
        let ids: Vec<ServerTxId> = self
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Request { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 1, "requests: {:?}", self.events);
        ids[0]
    }
}

fn ms(start: Instant, now: Instant) -> u64 {
    u64::try_from(now.duration_since(start).as_millis()).unwrap()
}

fn summary(bytes: &[u8]) -> (String, String) {
    let message = parse_message(bytes, &Limits::default()).unwrap();
    let line = String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (line, message.head().cseq.method.to_string())
}
