//! The PIN of a `direct` rule with `pin`: the call is answered, the caller hears dial tone
//! and keys the PIN (ending with `#`, or just its digits); a wrong PIN gets a second of busy
//! tone and another try, three in all. Only then does the caller join the room.

use std::time::{Duration, Instant};

use sipbridge_media::leg::MediaEvent;
use sipbridge_media::tone::Progress;
use sipbridge_signaling::dialog::{Dialog, Verdict};
use sipbridge_signaling::message::{Method, Response};
use sipbridge_signaling::outcome::{DisconnectReason, EstablishedEnd, Outcome, SipStatus};

use crate::call::media::CallMedia;
use crate::call::ports::RtpSockets;
use crate::call::sip::CallSip;
use crate::sip::link::CallInput;

const ATTEMPTS: usize = 3;
const BUSY_BETWEEN_TRIES: Duration = Duration::from_secs(1);

/// How PIN collection ended.
#[derive(Debug)]
pub(super) enum PinResult {
    Entered,
    /// The call is over; `send_bye` unless the phone already hung up.
    Over {
        outcome: Outcome,
        send_bye: bool,
    },
}

/// Runs the call's media and its SIP inputs until the PIN is right, wrong three times, not
/// entered within `timeout`, or the call ends.
pub(super) async fn collect_pin(
    pin: &str,
    media: &mut CallMedia,
    sockets: &RtpSockets,
    sip: &mut CallSip,
    dialog: &mut Dialog,
    timeout: Duration,
) -> PinResult {
    let deadline = Instant::now() + timeout;
    let mut entered = String::new();
    let mut failures = 0;
    let mut reprompt_at: Option<Instant> = None;
    media.set_prompt(Some(Progress::Dial));
    let mut buffer = vec![0u8; 2048];
    loop {
        let mut wake = media.poll_timeout().min(deadline);
        if let Some(at) = reprompt_at {
            wake = wake.min(at);
        }
        tokio::select! {
            received = sockets.rtp.recv_from(&mut buffer) => {
                if let Ok((len, source)) = received {
                    media.handle_rtp(Instant::now(), source, &buffer[..len]);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {}
            input = sip.inputs.recv() => {
                if let Some(result) = handle_sip(input, sip, dialog).await {
                    return result;
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let outcome = Outcome {
                reason: DisconnectReason::UserUnavailable,
                status: SipStatus::new(408, "PIN timeout"),
            };
            return PinResult::Over {
                outcome,
                send_bye: true,
            };
        }
        if reprompt_at.is_some_and(|at| now >= at) {
            reprompt_at = None;
            media.set_prompt(Some(Progress::Dial));
        }
        while media.tick_due(now) {
            let _ = media.tick(now);
            while let Some((packet, destination)) = media.poll_rtp() {
                let _ = sockets.rtp.try_send_to(packet, destination);
            }
        }
        media.handle_timeout(now);
        while let Some(event) = media.poll_event() {
            match event {
                MediaEvent::Dtmf(key) => {
                    media.set_prompt(None);
                    if key.key != '#' {
                        entered.push(key.key);
                    }
                    if key.key != '#' && entered.len() < pin.len() {
                        continue;
                    }
                    if entered == pin {
                        return PinResult::Entered;
                    }
                    entered.clear();
                    failures += 1;
                    if failures == ATTEMPTS {
                        let outcome = Outcome {
                            reason: DisconnectReason::UserRejected,
                            status: SipStatus::new(403, "Wrong PIN"),
                        };
                        return PinResult::Over {
                            outcome,
                            send_bye: true,
                        };
                    }
                    media.set_prompt(Some(Progress::Busy));
                    reprompt_at = Some(now + BUSY_BETWEEN_TRIES);
                }
                MediaEvent::Timeout { .. } => {
                    let outcome = EstablishedEnd::MediaTimeout.outcome();
                    return PinResult::Over {
                        outcome,
                        send_bye: true,
                    };
                }
                MediaEvent::SourceChanged(_) | MediaEvent::Latched(_) => {}
            }
        }
    }
}

/// A BYE ends the call; other in-dialog requests wait until the caller is in the room.
async fn handle_sip(
    input: Option<CallInput>,
    sip: &CallSip,
    dialog: &mut Dialog,
) -> Option<PinResult> {
    let (id, request) = match input {
        Some(CallInput::Request { id, request }) => (id, request),
        Some(CallInput::Shutdown) => {
            let outcome = EstablishedEnd::Shutdown.outcome();
            return Some(PinResult::Over {
                outcome,
                send_bye: true,
            });
        }
        Some(_) => return None,
        None => {
            let outcome = EstablishedEnd::Shutdown.outcome();
            return Some(PinResult::Over {
                outcome,
                send_bye: false,
            });
        }
    };
    let mut response = match dialog.receive_request(&request, rand::random()) {
        Ok(Verdict::Accept) => match request.method {
            Method::Ack => return None,
            Method::Bye | Method::Options | Method::Info => Response::to(&request, 200, None),
            // RFC 3261 §14.2: not now, try again shortly.
            _ => {
                let mut busy = Response::to(&request, 500, None);
                busy.head.other.push("Retry-After", "2");
                busy
            }
        },
        Ok(Verdict::Reject(response)) => *response,
        Err(_) => Response::to(&request, 481, None),
    };
    let bye = request.method == Method::Bye && response.code == 200;
    let _ = dialog.respond(&request, &mut response, Instant::now());
    sip.respond(id, response).await;
    bye.then(|| PinResult::Over {
        outcome: EstablishedEnd::RemoteBye.outcome(),
        send_bye: false,
    })
}
