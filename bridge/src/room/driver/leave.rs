//! Leaving the room: departure attributes first, then the `LeaveRequest`, then the server's
//! goodbye — each step bounded, so leaving never hangs on a server that stopped answering.

use std::time::Instant;

use livekit_protocol as proto;
use proto::signal_request::Message as Request;
use tokio::sync::oneshot;

use super::LEAVE_STEP_TIMEOUT;
use crate::room::{Departure, DisconnectReason, RoomEnd};

/// What we are waiting for while leaving.
#[derive(Debug)]
pub(super) enum LeaveStage {
    /// The server's answer to the departure attributes (request id).
    Attributes(u32),
    /// The server's goodbye after our `LeaveRequest`.
    Goodbye,
}

#[derive(Debug)]
pub(super) struct Leaving {
    pub(super) departure: Option<Departure>,
    pub(super) stage: LeaveStage,
    pub(super) deadline: Instant,
    pub(super) done: Option<oneshot::Sender<RoomEnd>>,
}

impl super::Driver {
    /// Leaving, step 1: the departure attributes, so every member sees the outcome.
    pub(super) async fn start_leaving(
        &mut self,
        departure: Option<Departure>,
        done: Option<oneshot::Sender<RoomEnd>>,
    ) {
        if self.leaving.is_some() {
            if let Some(done) = done {
                let _ = done.send(RoomEnd::Lost("already leaving".into()));
            }
            return;
        }
        let Some(departure) = departure else {
            // No outcome to publish (the call actor dropped its handle): just the LeaveRequest.
            self.leaving = Some(Leaving {
                departure: None,
                stage: LeaveStage::Goodbye,
                deadline: Instant::now() + LEAVE_STEP_TIMEOUT,
                done,
            });
            return self.send_leave().await;
        };
        let request_id = self.update_attributes(departure.attributes()).await;
        self.leaving = Some(Leaving {
            departure: Some(departure),
            stage: LeaveStage::Attributes(request_id),
            deadline: Instant::now() + LEAVE_STEP_TIMEOUT,
            done,
        });
    }

    /// Leaving, step 2: the `LeaveRequest` with our reason.
    pub(super) async fn send_leave(&mut self) {
        let Some(leaving) = self.leaving.as_mut() else {
            return;
        };
        let reason = leaving
            .departure
            .as_ref()
            .map_or(DisconnectReason::ClientInitiated, |d| d.reason);
        leaving.stage = LeaveStage::Goodbye;
        leaving.deadline = Instant::now() + LEAVE_STEP_TIMEOUT;
        let leave = proto::LeaveRequest {
            reason: reason as i32,
            action: proto::leave_request::Action::Disconnect as i32,
            ..Default::default()
        };
        self.signal.send(Request::Leave(leave)).await;
    }

    pub(super) fn on_server_leave(&mut self, leave: proto::LeaveRequest) {
        // The server's goodbye to our own LeaveRequest.
        if matches!(
            self.leaving,
            Some(Leaving {
                stage: LeaveStage::Goodbye,
                ..
            })
        ) {
            return self.finish_leaving();
        }
        let reason = leave.reason();
        let action = leave.action();
        tracing::info!(?reason, ?action, "the server ended the participant");
        // RESUME would be answered by the signal close that follows (we resume then); RECONNECT
        // asks for a new participant, which for a call is a new join: the call actor decides.
        if action != proto::leave_request::Action::Resume {
            self.end(RoomEnd::Removed { reason });
        }
    }

    pub(super) fn finish_leaving(&mut self) {
        if let Some(leaving) = self.leaving.as_mut() {
            let end = match leaving.departure.clone() {
                Some(d) => RoomEnd::Left(d),
                None => RoomEnd::Left(Departure {
                    reason: DisconnectReason::ClientInitiated,
                    status_code: 0,
                    status_reason: String::new(),
                }),
            };
            if let Some(done) = leaving.done.take() {
                let _ = done.send(end.clone());
            }
            self.end(end);
        }
    }
}
