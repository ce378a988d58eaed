//! The four sinks agree for every ending, and the two `DisconnectReason` types map onto
//! each other for every value.

use sipbridge_signaling::outcome::{DisconnectReason as OurReason, Ending, Outcome, SipStatus};

use super::{EndSinks, PhoneClose, deliver};
use crate::call::sip::{livekit_reason, outcome_reason};
use crate::room::{Departure, DisconnectReason as ProtoReason};

/// Sinks that remember what they were given.
#[derive(Debug, Default)]
struct Recorded {
    phone: Vec<SipStatus>,
    room: Vec<Departure>,
    api: Vec<Outcome>,
    record: Vec<(Outcome, String)>,
}

impl EndSinks for &mut Recorded {
    async fn tell_phone(&mut self, _close: PhoneClose<'_>, status: &SipStatus) {
        self.phone.push(status.clone());
    }

    async fn leave_room(&mut self, departure: Departure) {
        self.room.push(departure);
    }

    fn answer_api(&mut self, outcome: &Outcome) {
        self.api.push(outcome.clone());
    }

    fn write_record(&mut self, outcome: &Outcome, detail: &str) {
        self.record.push((outcome.clone(), detail.to_owned()));
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}

#[test]
fn every_ending_reaches_the_four_sinks_alike_and_once() {
    for ending in Ending::every_kind() {
        let mut seen = Recorded::default();
        let outcome = block_on(deliver(&ending, "why", PhoneClose::Nothing, &mut seen));
        assert_eq!(outcome, ending.outcome(), "{ending:?}");
        assert_eq!(
            seen.phone,
            std::slice::from_ref(&outcome.status),
            "{ending:?}"
        );
        assert_eq!(seen.api, std::slice::from_ref(&outcome), "{ending:?}");
        assert_eq!(
            seen.record,
            [(outcome.clone(), "why".to_owned())],
            "{ending:?}"
        );
        let [departure] = &seen.room[..] else {
            panic!("{ending:?}: {} departures", seen.room.len());
        };
        assert_eq!(departure.reason.as_str_name(), outcome.reason.as_str());
        assert_eq!(departure.status_code, outcome.status.code);
        assert_eq!(departure.status_reason, outcome.status.reason);
        let attributes = departure.attributes();
        assert_eq!(attributes["sip.disconnectReason"], outcome.reason.as_str());
        assert_eq!(
            attributes["sip.statusCode"],
            outcome.status.code.to_string()
        );
        assert_eq!(attributes["sip.callStatus"], "hangup");
    }
}

#[test]
fn our_reasons_and_the_protos_map_one_to_one() {
    for ours in OurReason::ALL {
        let proto = livekit_reason(ours);
        assert_eq!(proto.as_str_name(), ours.as_str());
        assert_eq!(outcome_reason(proto), ours);
    }
    // Every value the proto defines has a name of ours.
    let mut proto_values = 0;
    for value in 0..64 {
        if let Ok(proto) = ProtoReason::try_from(value) {
            proto_values += 1;
            assert_eq!(livekit_reason(outcome_reason(proto)), proto, "{proto:?}");
        }
    }
    assert_eq!(proto_values, OurReason::ALL.len());
}
