//! What the phone hears while a transfer waits, checked by content. With `play_dialtone` the
//! phone hears US dial tone (350 + 440 Hz) from the REFER until the final NOTIFY, while the
//! room keeps hearing the phone; once the transfer has failed the dial tone stops and the
//! phone hears the room again (silence: nobody in it speaks).
//!
//! The phone's RTP is this test's own UDP socket, which the carrier's answer names: it
//! sends a 1 kHz tone as the phone's voice and keeps what the bridge sends, decoded, with
//! arrival times. The carrier (SIPp) does the signalling only.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use sipbridge_media::analysis::{rms, tone_frequency, tone_purity};
use sipbridge_media::g711::Law;
use sipbridge_media::tone::Sine;
use sipbridge_tests::api::{ApiCaller, Sdk};
use sipbridge_tests::sipp::{self, scenario};
use sipbridge_tests::sipp_transfer::{
    ACTIVE, Step, TERMINATED, TransferScript, for_outbound, transfer_times,
};
use sipbridge_tests::sipp_uas::{NO_HEADERS, RING_180, SippUas};
use sipbridge_tests::{Bed, OwnBridge, RoomMember};

const OWN_BRIDGE: &str = "rtp: { media_timeout: 60s, media_timeout_initial: 60s }\n";
const WAIT: Duration = Duration::from_secs(30);
const RATE: u32 = 8000;
const FRAME: usize = 160;
/// How long the carrier keeps the transfer waiting before its final NOTIFY.
const WAIT_MS: u64 = 4000;

/// What uas_answer.xml plays after the ACK; this test's phone speaks instead.
const CARRIER_AUDIO: &str = r#"  <nop>
    <action>
      <exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/>
    </action>
  </nop>
"#;

/// Decoded 20 ms frames from the bridge, with when each arrived.
type Heard = Mutex<Vec<(SystemTime, Vec<i16>)>>;

/// The phone's RTP endpoint: a thread on its own socket.
struct Phone {
    port: u16,
    heard: Arc<Heard>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (heard, stop) = (heard.clone(), stop.clone());
            std::thread::spawn(move || speak_and_listen(&socket, &heard, &stop))
        };
        Self {
            port,
            heard,
            stop,
            thread: Some(thread),
        }
    }

    /// Everything heard between `from` and `to`, as one stream of samples.
    fn heard_between(&self, from: SystemTime, to: SystemTime) -> Vec<i16> {
        let heard = self.heard.lock().unwrap();
        heard
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .flat_map(|(_, samples)| samples.iter().copied())
            .collect()
    }

    /// When the first 20 ms after `after` that `matches` arrived.
    fn first_frame(
        &self,
        after: SystemTime,
        matches: impl Fn(&[i16]) -> bool,
    ) -> Option<SystemTime> {
        let heard = self.heard.lock().unwrap();
        heard
            .iter()
            .find(|(at, samples)| *at >= after && matches(samples))
            .map(|(at, _)| *at)
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

/// Sends a 1 kHz PCMA tone every 20 ms to wherever the bridge's RTP comes from, and keeps
/// each PCMA packet the bridge sends, decoded.
fn speak_and_listen(socket: &UdpSocket, heard: &Heard, stop: &AtomicBool) {
    let mut bridge: Option<SocketAddr> = None;
    let mut voice = Sine::new(1000.0, RATE, 8000);
    let (mut seq, mut timestamp) = (0u16, 0u32);
    let mut next_send = Instant::now();
    let mut buffer = [0u8; 2048];
    while !stop.load(Ordering::Acquire) {
        if let Ok((len, source)) = socket.recv_from(&mut buffer) {
            bridge.get_or_insert(source);
            let packet = &buffer[..len];
            let header = 12 + 4 * usize::from(packet.first().map_or(0, |b| b & 0x0f));
            if len > header && packet[1] & 0x7f == 8 {
                let mut samples = vec![0i16; len - header];
                Law::A.decode(&packet[header..], &mut samples);
                heard.lock().unwrap().push((SystemTime::now(), samples));
            }
        }
        let Some(bridge) = bridge else { continue };
        while Instant::now() >= next_send {
            next_send += Duration::from_millis(20);
            let mut pcm = [0i16; FRAME];
            voice.fill(&mut pcm);
            let mut packet = vec![0x80, 8];
            packet.extend_from_slice(&seq.to_be_bytes());
            packet.extend_from_slice(&timestamp.to_be_bytes());
            packet.extend_from_slice(&0x5eed_u32.to_be_bytes());
            let mut payload = [0u8; FRAME];
            Law::A.encode(&pcm, &mut payload);
            packet.extend_from_slice(&payload);
            let _ = socket.send_to(&packet, bridge);
            seq = seq.wrapping_add(1);
            timestamp = timestamp.wrapping_add(FRAME as u32);
        }
    }
}

/// uas_answer.xml with the answer's audio at `port` and no audio of its own, ending with
/// `script`.
fn carrier(port: u16, script: &TransferScript) -> String {
    let answer = format!(
        "      v=0
      o=carrier 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {port} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv"
    );
    let text = scenario(
        "uas_answer",
        &[
            ("RINGING", RING_180),
            ("ANSWER_SDP", &answer),
            ("EXTRA_HEADERS", NO_HEADERS),
            ("HANGUP", &for_outbound(script)),
        ],
    );
    assert!(
        text.contains(CARRIER_AUDIO),
        "uas_answer.xml no longer plays its pcap so"
    );
    text.replace(CARRIER_AUDIO, "")
}

fn is_dial_tone(samples: &[i16]) -> bool {
    let dual = tone_purity(samples, RATE, 350.0) + tone_purity(samples, RATE, 440.0);
    dual > 0.8 && rms(samples) > 300.0
}

fn ms(from: SystemTime, to: SystemTime) -> i128 {
    match to.duration_since(from) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

#[test]
fn the_phone_hears_dial_tone_while_the_transfer_waits_and_the_room_still_hears_the_phone() {
    let test =
        "the_phone_hears_dial_tone_while_the_transfer_waits_and_the_room_still_hears_the_phone";
    let Some(bed) = Bed::get(test) else { return };
    if !sipp::available(test) {
        return;
    }
    let bridge = OwnBridge::start(&bed, "dialtone", OWN_BRIDGE);
    let own = bridge.bed.clone();
    let phone = Phone::start();
    let script = TransferScript::accepted(vec![
        Step::notify("SIP/2.0 100 Trying", ACTIVE),
        Step::Pause(WAIT_MS),
        Step::notify("SIP/2.0 486 Busy Here", TERMINATED),
        Step::Pause(2500),
        Step::CarrierBye,
    ]);
    let sipp = SippUas::start(&own, "dialtone", &carrier(phone.port, &script), 1, &[]);
    let (room, identity) = ("xfer-dialtone", "callee-dialtone");
    let mut member = RoomMember::join(&own, room, "listener", &["--commands"]);
    member.expect("joined", WAIT);
    let caller = ApiCaller::of(&own);
    let create = json!({
        "trunk": { "hostname": sipp.addr(), "transport": "udp" },
        "sip_number": "+15550199",
        "sip_call_to": "+15557654321",
        "room_name": room,
        "participant_identity": identity,
        "wait_until_answered": true,
    });
    let created = caller.create_sip_participant(Sdk::Python, &create, &[], WAIT);
    assert!(created.ok.is_some(), "{:?}", created.error);
    // Some room audio (silence) reaches the phone before the transfer.
    std::thread::sleep(Duration::from_millis(1500));

    let transfer = json!({
        "room_name": room,
        "participant_identity": identity,
        "transfer_to": "sip:agent@127.0.0.1",
        "play_dialtone": true,
    });
    let asked = SystemTime::now();
    let reply = std::thread::scope(|scope| {
        let call = scope.spawn(|| caller.transfer_sip_participant(Sdk::Python, &transfer, WAIT));
        // The room keeps hearing the phone while the transfer waits.
        std::thread::sleep(Duration::from_millis(500));
        member.command(json!({"cmd": "detect_tone", "from": identity, "timeout": 3}));
        let heard = member.expect("tone", WAIT);
        let hz = heard["hz"].as_f64().unwrap();
        assert!(
            (hz - 1000.0).abs() < 10.0,
            "the room heard {heard} during the transfer"
        );
        println!("room heard the phone's {hz} Hz while the transfer waited");
        call.join().unwrap()
    });
    let error = reply.error.expect("the transfer fails 486");
    assert_eq!(error.sip_status_code, Some(486), "{error:?}");

    let run = sipp.finish(Duration::from_secs(30));
    assert!(run.passed, "the carrier's scenario failed\n{}", run.trace);
    let times = transfer_times(&run).unwrap();
    let (refer, final_notify) = (times.refer_received, times.final_notify_sent.unwrap());

    let before = phone.heard_between(
        asked - Duration::from_millis(1000),
        asked - Duration::from_millis(50),
    );
    assert!(
        before.len() >= 8 * FRAME,
        "too little RTP before the transfer: {}",
        before.len()
    );
    assert!(
        rms(&before) < 100.0,
        "the phone heard {} RMS before the transfer",
        rms(&before)
    );

    let waiting = phone.heard_between(
        refer + Duration::from_millis(300),
        final_notify - Duration::from_millis(100),
    );
    assert!(
        waiting.len() >= 100 * FRAME,
        "too little RTP while waiting: {}",
        waiting.len()
    );
    assert!(
        is_dial_tone(&waiting),
        "no dial tone while waiting: 350 Hz {:.2}, 440 Hz {:.2}, rms {:.0}, dominant {:?} Hz",
        tone_purity(&waiting, RATE, 350.0),
        tone_purity(&waiting, RATE, 440.0),
        rms(&waiting),
        tone_frequency(&waiting, RATE)
    );

    let after = phone.heard_between(
        final_notify + Duration::from_millis(300),
        final_notify + Duration::from_millis(2000),
    );
    assert!(
        after.len() >= 40 * FRAME,
        "too little RTP after the transfer: {}",
        after.len()
    );
    assert!(
        rms(&after) < 100.0,
        "the dial tone went on after the transfer failed: rms {:.0}",
        rms(&after)
    );

    let onset = phone.first_frame(asked, |s| rms(s) > 1000.0).unwrap();
    let silence = phone.first_frame(final_notify, |s| rms(s) < 100.0).unwrap();
    println!(
        "dial tone: starts {} ms after the test started the SDK call ({} ms after the REFER reached the carrier), \
         350 Hz {:.2} + 440 Hz {:.2} of the signal while waiting; stops {} ms after the final NOTIFY",
        ms(asked, onset),
        ms(refer, onset),
        tone_purity(&waiting, RATE, 350.0),
        tone_purity(&waiting, RATE, 440.0),
        ms(final_notify, silence)
    );
    drop(member);
}
