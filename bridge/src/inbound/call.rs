//! One inbound call, from its INVITE to its outcome: admission (trunk, auth, rule), the SDP
//! answer, 180 while the participant joins, 200 once it has, then the established call.
//! Every path ends in exactly one call detail record and one `calls_ended` count.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::Negotiated;
use sipbridge_signaling::Error;
use sipbridge_signaling::dialog::{Dialog, LocalParty, Tag, TimerConfig};
use sipbridge_signaling::message::{Request, Response, sdp_body};
use sipbridge_signaling::outcome::{
    DisconnectReason, EstablishedEnd, InboundRejection, Outcome, SipStatus,
};
use sipbridge_signaling::screen::{ALLOWED_METHODS, SUPPORTED};
use sipbridge_signaling::sdp::{LocalSession, parse as parse_sdp};
use sipbridge_signaling::transaction::ServerTxId;

use super::admit::{Admitted, admit};
use super::identity::{call_info, participant};
use super::pin::{PinResult, collect_pin};
use super::routing::{CallAddress, pin, room_name};
use crate::call::context::CallContext;
use crate::call::leg::MediaLeg;
use crate::call::media::CallMedia;
use crate::call::session::{Established, no_ack};
use crate::call::settings::codec_preferences;
use crate::call::sip::{CallSip, departure};
use crate::call::transfer::Transfers;
use crate::cdr::{CallRecord, now_ns};
use crate::room::{JoinRequest, RoomEvent, RoomHandle, join};
use crate::sip::link::{CallInput, DialogKey, NewCall};

/// Runs the call; returns when it has ended and its record is written.
pub(super) async fn run(context: Arc<CallContext>, call: NewCall) {
    let NewCall {
        id,
        invite,
        source,
        transport,
        local_tag,
        inputs,
        inputs_sender,
        endpoint,
    } = call;
    let key = DialogKey {
        call_id: invite.head.call_id.0.clone(),
        local_tag: local_tag.clone(),
    };
    let sip = CallSip::new(endpoint, inputs_sender, inputs, key, transport, source);

    let call = InboundCall {
        context: context.clone(),
        sip,
        id,
        local_tag,
        source,
    };
    if context.draining.load(std::sync::atomic::Ordering::Acquire) {
        // Draining: new calls go to another instance (RFC 3261 §21.5.4, Retry-After).
        let outcome = EstablishedEnd::Shutdown.outcome();
        let record = context.cdr.record(call_info(&invite, None, ""));
        let retry = [("Retry-After", "30".to_owned())];
        return call
            .decline(&invite, &retry, false, record, outcome, "draining")
            .await;
    }
    if let Some(reason) = context.overloaded() {
        tracing::warn!(%reason, "inbound call refused: over the limit");
        let outcome = Outcome {
            reason: DisconnectReason::JoinFailure,
            status: SipStatus::new(503, reason),
        };
        let record = context.cdr.record(call_info(&invite, None, ""));
        let retry = [("Retry-After", "5".to_owned())];
        return call
            .decline(&invite, &retry, false, record, outcome, reason)
            .await;
    }
    let admitted = admit(
        &context.config,
        &context.challenger,
        &invite,
        source.ip(),
        SystemTime::now(),
    );
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            tracing::info!(call_id = %invite.head.call_id, code = refusal.code, detail = %refusal.detail, "inbound call refused");
            let status = SipStatus::new(refusal.code, refusal.reason.clone());
            let Some(rejection) = refusal.outcome else {
                // A 407 challenge: a step of the attempt, not its end, so no record.
                let response = Response::to(&invite, status.code, Some(&status.reason));
                let mut response = with_tag(response, &call.local_tag);
                for (name, value) in &refusal.headers {
                    response.head.other.push(name, value.clone());
                }
                call.answer_invite(response).await;
                call.sip.forget().await;
                return;
            };
            // The record carries the status actually sent (a 400 for malformed
            // credentials, not the table's 403).
            let outcome = Outcome {
                status,
                ..rejection.outcome()
            };
            let record = context.cdr.record(call_info(&invite, None, ""));
            let (headers, silent) = (&refusal.headers, refusal.silent);
            return call
                .decline(&invite, headers, silent, record, outcome, &refusal.detail)
                .await;
        }
    };
    // Admission is instant and a refusal final at once; for an admitted call, 100 Trying now
    // rather than after the layer's 200 ms.
    call.sip.respond(id, Response::to(&invite, 100, None)).await;
    call.proceed(invite, admitted).await;
}

/// A joined room participant and its events.
type Joined = (RoomHandle, tokio::sync::mpsc::Receiver<RoomEvent>);

struct InboundCall {
    context: Arc<CallContext>,
    sip: CallSip,
    id: ServerTxId,
    local_tag: String,
    source: SocketAddr,
}

fn with_tag(mut response: Response, tag: &str) -> Response {
    if response.code > 100 && response.head.to.tag().is_none() {
        response.head.to.params.set("tag", Some(tag.to_owned()));
    }
    response
}

impl InboundCall {
    async fn proceed(mut self, invite: Request, admitted: Admitted<'_>) {
        let context = self.context.clone();
        let suffix = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let address = CallAddress {
            source: self.source.ip(),
            called: &admitted.called,
            caller: &admitted.caller,
        };
        let room = room_name(admitted.rule, address, &suffix);
        let mut record = context
            .cdr
            .record(call_info(&invite, Some(&admitted), &room));

        // Media first: an offer we cannot use is refused before anyone joins a room.
        let Some(sockets) = context.ports.allocate().await else {
            tracing::warn!("no free RTP port pair");
            let outcome = InboundRejection::RoomJoinFailed.outcome();
            return self
                .refuse(&invite, record, outcome, "no free RTP port")
                .await;
        };
        let rtp_addr = SocketAddr::new(context.local.rtp_ip, sockets.rtp_port());
        let mut session = LocalSession::new(
            rand::random::<u32>().into(),
            rtp_addr,
            codec_preferences(&context.config.rtp),
        );
        // An INVITE without an offer (RFC 3261 §13.2.1, "delayed offer", the default of
        // Cisco gateways) gets our offer in the 200, and the phone's answer comes in the ACK.
        let (our_sdp, negotiated) = match sdp_body(&invite.head, &invite.body) {
            None => (session.offer(), None),
            Some(offer) => match parse_sdp(offer).and_then(|offer| session.answer(&offer)) {
                Ok((answer, negotiated)) => (answer, Some(negotiated)),
                Err(error) => return self.refuse_offer(&invite, record, &error).await,
            },
        };
        let media = match &negotiated {
            None => None,
            Some(negotiated) => match self.media_for(negotiated, &room, &mut record) {
                Ok(media) => Some(media),
                Err(detail) => {
                    let outcome = InboundRejection::RoomJoinFailed.outcome();
                    return self.refuse(&invite, record, outcome, &detail).await;
                }
            },
        };

        // Our tag and Contact go on the first response that forms the dialog (RFC 3261
        // §12.1.1): the 180, or with a PIN to collect, the 200 at once.
        let local = LocalParty {
            tag: Tag(self.local_tag.clone()),
            contact: context.local.contact(self.sip.transport),
        };
        let timers = TimerConfig {
            we_refresh: false,
            ..TimerConfig::default()
        };
        let pin = pin(admitted.rule);
        let mut first = if pin.is_some() {
            self.ok_response(&invite, &our_sdp)
        } else {
            Response::to(&invite, 180, None)
        };
        let mut dialog = match Dialog::new_uas(&invite, &mut first, local, timers, Instant::now()) {
            Ok(dialog) => dialog,
            Err(error) => {
                tracing::info!(%error, "INVITE cannot form a dialog");
                let outcome = InboundRejection::BadSdp.outcome();
                return self
                    .refuse(&invite, record, outcome, &error.to_string())
                    .await;
            }
        };
        let identity = participant(&invite, &admitted, &room, &record);
        let participant_identity = identity.identity.clone();
        record.update(|info| info.participant_identity = participant_identity);
        let request = JoinRequest {
            room: room.clone(),
            who: identity,
        };

        let (room_handle, room_events, media) = if let Some(pin) = pin {
            self.answer_invite(first).await;
            record.update(|info| info.started_at_ns = now_ns());
            let media = match media {
                Some(media) => Ok(media),
                None => self.media_from_ack(&mut session, &room, &mut record).await,
            };
            let mut media = match media {
                Ok(media) => media,
                Err(ending) => {
                    let (outcome, detail) = *ending;
                    self.bye(&mut dialog).await;
                    context.finish("inbound", record, &outcome, &detail);
                    self.sip.forget().await;
                    return;
                }
            };
            let timeout = admitted.rule.ringing_timeout.0;
            let gate = collect_pin(
                pin,
                &mut media,
                &sockets,
                &mut self.sip,
                &mut dialog,
                timeout,
            )
            .await;
            if let PinResult::Over { outcome, send_bye } = gate {
                if send_bye {
                    self.bye(&mut dialog).await;
                }
                context.finish("inbound", record, &outcome, "PIN not entered");
                self.sip.forget().await;
                return;
            }
            match join(&context.room, request).await {
                Ok((handle, events)) => (handle, events, media),
                Err(error) => {
                    tracing::warn!(%error, %room, "joining the room failed");
                    self.bye(&mut dialog).await;
                    context.finish(
                        "inbound",
                        record,
                        &InboundRejection::RoomJoinFailed.outcome(),
                        &error.to_string(),
                    );
                    self.sip.forget().await;
                    return;
                }
            }
        } else {
            self.sip.respond(self.id, first).await;
            let joined = match self.join_while_ringing(request).await {
                Ok(joined) => joined,
                Err(ending) => {
                    // After a CANCEL this is the 487 RFC 3261 §9.2 asks for.
                    let (outcome, detail) = *ending;
                    return self.refuse(&invite, record, outcome, &detail).await;
                }
            };
            let mut ok = self.ok_response(&invite, &our_sdp);
            if let Err(error) = dialog.respond(&invite, &mut ok, Instant::now()) {
                tracing::warn!(%error, "200 OK not applied to the dialog");
            }
            self.answer_invite(ok).await;
            record.update(|info| info.started_at_ns = now_ns());
            let (handle, events) = joined;
            let media = match media {
                Some(media) => Ok(media),
                None => self.media_from_ack(&mut session, &room, &mut record).await,
            };
            match media {
                Ok(media) => (handle, events, media),
                Err(ending) => {
                    let (outcome, detail) = *ending;
                    handle.leave(departure(&outcome)).await;
                    self.bye(&mut dialog).await;
                    context.finish("inbound", record, &outcome, &detail);
                    self.sip.forget().await;
                    return;
                }
            }
        };
        // Listed before anyone can see the call active, so a transfer asked for at once finds it.
        let transfers = Transfers::list(&context, &record);
        let _ = room_handle
            .set_attributes(HashMap::from([(
                "sip.callStatus".to_owned(),
                "active".to_owned(),
            )]))
            .await;
        let established = Established {
            sip: self.sip,
            dialog,
            local: context.local.clone(),
            session,
            leg: MediaLeg::new(media, sockets, Instant::now()),
            room: room_handle,
            room_events,
            max_duration: admitted.rule.max_call_duration.map(|d| d.0),
            metrics: context.metrics.clone(),
            ack: None,
            transfers,
            answer_due: false,
        };
        established.run_to_end(&context, "inbound", record).await;
    }

    /// Answers an offer we cannot take: 488 (or what the SDP fault calls for) with a
    /// Warning saying which problem it was (RFC 3261 §20.43), for the carrier's logs.
    async fn refuse_offer(self, invite: &Request, record: CallRecord, error: &Error) {
        let rejection = error.sdp_rejection();
        let plain = (488, "Not Acceptable Here");
        let (code, reason) = rejection.map_or(plain, |r| (r.status, r.reason));
        tracing::info!(%error, "inbound offer refused");
        let host = self.context.local.sip_ip;
        let warning = rejection.and_then(|r| r.warning);
        let headers: Vec<_> = warning
            .map(|code| ("Warning", format!("{code} {host} \"{reason}\"")))
            .into_iter()
            .collect();
        let outcome = Outcome {
            status: SipStatus::new(code, reason),
            ..InboundRejection::BadSdp.outcome()
        };
        self.decline(invite, &headers, false, record, outcome, &error.to_string())
            .await;
    }

    /// The pipeline for the negotiated leg; its codec goes in the record.
    fn media_for(
        &self,
        negotiated: &Negotiated,
        room: &str,
        record: &mut CallRecord,
    ) -> Result<CallMedia, String> {
        let codec = match negotiated.codec {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::G722 => "G722",
            AudioCodec::Opus => "opus",
        };
        record.update(|info| info.audio_codec = codec.to_owned());
        let rtp = &self.context.config.rtp;
        CallMedia::for_leg(Instant::now(), negotiated, rtp, room).map_err(|error| {
            tracing::error!(%error, "media set-up failed");
            error.to_string()
        })
    }

    /// Delayed offer: waits for the ACK of our 200, whose body answers the offer in it, and
    /// builds the media from that. Requests that come first wait for the established call.
    /// The error is how the call ended (a BYE is due) and a detail for the record.
    async fn media_from_ack(
        &mut self,
        session: &mut LocalSession,
        room: &str,
        record: &mut CallRecord,
    ) -> Result<CallMedia, Box<(Outcome, String)>> {
        let mut early = Vec::new();
        let ack = loop {
            match self.sip.inputs.recv().await {
                Some(CallInput::AckReceived { ack, .. }) => break ack,
                Some(CallInput::NoAck { .. }) => {
                    return Err(Box::new((no_ack(), "no ACK for our offer".to_owned())));
                }
                Some(CallInput::Shutdown) | None => {
                    let ending = EstablishedEnd::Shutdown.outcome();
                    return Err(Box::new((ending, "shut down before the ACK".to_owned())));
                }
                Some(other) => early.push(other),
            }
        };
        self.sip.requeue(early);
        let answered = match sdp_body(&ack.head, &ack.body) {
            None => Err("the ACK has no SDP answer to our offer".to_owned()),
            Some(answer) => parse_sdp(answer)
                .and_then(|answer| session.handle_answer(&answer))
                .map_err(|error| error.to_string()),
        };
        let negotiated = answered.map_err(|detail| {
            tracing::info!(%detail, "delayed offer: the phone's answer is unusable");
            let outcome = Outcome {
                status: SipStatus::new(488, "Not Acceptable Here - No usable SDP answer"),
                ..InboundRejection::BadSdp.outcome()
            };
            Box::new((outcome, detail))
        })?;
        self.media_for(&negotiated, room, record)
            .map_err(|detail| Box::new((InboundRejection::RoomJoinFailed.outcome(), detail)))
    }

    /// The 200 OK with our SDP (answer, or offer when the INVITE had none) and what we
    /// support.
    fn ok_response(&self, invite: &Request, answer: &str) -> Response {
        let mut ok = Response::to(invite, 200, None);
        let headers = &mut ok.head.other;
        headers.push("Allow", ALLOWED_METHODS);
        headers.push("Supported", SUPPORTED.join(", "));
        headers.push("Server", self.context.config.sip.user_agent.clone());
        ok.head.content_type = Some("application/sdp".into());
        ok.body = Bytes::from(answer.to_owned());
        ok
    }

    /// Joins the room while the phone rings; a CANCEL (487) or a shutdown ends it first.
    /// The error carries the outcome and a detail for the record.
    async fn join_while_ringing(
        &mut self,
        request: JoinRequest,
    ) -> Result<Joined, Box<(Outcome, String)>> {
        let joining = join(&self.context.room, request);
        tokio::pin!(joining);
        loop {
            tokio::select! {
                joined = &mut joining => {
                    return joined.map_err(|error| {
                        tracing::warn!(%error, "joining the room failed");
                        Box::new((InboundRejection::RoomJoinFailed.outcome(), error.to_string()))
                    });
                }
                input = self.sip.inputs.recv() => match input {
                    Some(CallInput::Shutdown) => {
                        let ending = (EstablishedEnd::Shutdown.outcome(), "shut down while joining".to_owned());
                        return Err(Box::new(ending));
                    }
                    Some(CallInput::Cancelled { .. }) | None => {
                        let ending = (InboundRejection::CallerCancelled.outcome(), String::new());
                        return Err(Box::new(ending));
                    }
                    // Retransmissions and the like are the transaction layer's business.
                    Some(_) => {}
                }
            }
        }
    }

    /// Ends an answered call from our side.
    async fn bye(&self, dialog: &mut Dialog) {
        self.sip.send_bye(dialog, &self.context.local).await;
    }

    /// Sends the INVITE's final response, counting it.
    async fn answer_invite(&self, response: Response) {
        self.context.metrics.inbound_invite(response.code);
        self.sip.respond(self.id, response).await;
    }

    /// Answers the INVITE with the outcome's status and records it.
    async fn refuse(self, invite: &Request, record: CallRecord, outcome: Outcome, error: &str) {
        self.decline(invite, &[], false, record, outcome, error)
            .await;
    }

    /// Answers the INVITE with the outcome's status and `headers` (no answer at all when
    /// `silent`), writes the record and forgets the dialog.
    async fn decline(
        self,
        invite: &Request,
        headers: &[(&'static str, String)],
        silent: bool,
        record: CallRecord,
        outcome: Outcome,
        error: &str,
    ) {
        if silent {
            self.sip.abandon(self.id).await;
        } else {
            let status = &outcome.status;
            let mut response = with_tag(
                Response::to(invite, status.code, Some(&status.reason)),
                &self.local_tag,
            );
            for (name, value) in headers {
                response.head.other.push(name, value.clone());
            }
            self.answer_invite(response).await;
        }
        self.context.finish("inbound", record, &outcome, error);
        self.sip.forget().await;
    }
}
