//! RTCP between our SIP leg and a phone built from the same parts: sender and receiver
//! reports carry the loss the phone saw on our stream and let us compute the round trip.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use sipbridge_media::codec::AudioCodec;
use sipbridge_media::leg::{LegSettings, PhoneReceiver, PhoneSender, RtcpSession};
use sipbridge_media::rtp::Ssrc;
use support::{negotiated, phone};

#[test]
fn reports_carry_loss_and_give_the_round_trip() {
    let leg = negotiated(AudioCodec::Pcmu, 20);
    let settings = LegSettings::default();
    let t0 = Instant::now();
    let epoch = Duration::from_secs(1_800_000_000);
    let one_way = Duration::from_millis(25);
    let mut bridge_tx = PhoneSender::new(&leg, &settings, Ssrc(1), 0, 0).unwrap();
    let mut bridge_rx = PhoneReceiver::new(t0, &leg, &settings).unwrap();
    let mut phone_tx = PhoneSender::new(&leg, &settings, Ssrc(2), 0, 0).unwrap();
    let mut phone_rx = PhoneReceiver::new(t0, &leg, &settings).unwrap();
    let mut bridge_rtcp = RtcpSession::new(t0, "sipbridge@test");
    // The phone's first report comes a second after ours, so it can echo our SR.
    let mut phone_rtcp = RtcpSession::new(t0 + Duration::from_secs(1), "phone@test");
    let silence = [0i16; 160];
    let mut in_flight: Vec<(Instant, bool, Vec<u8>)> = Vec::new();
    for tick in 0..350u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        let wall = epoch + (now - t0);
        bridge_tx.push_frame(&silence).unwrap();
        while let Some(p) = bridge_tx.poll_packet() {
            // Every tenth packet of ours is lost on the way to the phone.
            if tick % 10 != 3 {
                phone_rx.handle_rtp(now, phone(), p);
            }
        }
        phone_tx.push_frame(&silence).unwrap();
        while let Some(p) = phone_tx.poll_packet() {
            bridge_rx.handle_rtp(now, phone(), p);
        }
        bridge_rx.poll_frame(now);
        phone_rx.poll_frame(now);
        if let Some(sr) = bridge_rtcp.poll_report(now, wall, &mut bridge_rx, &bridge_tx) {
            in_flight.push((now + one_way, true, sr.to_vec()));
        }
        if let Some(rr) = phone_rtcp.poll_report(now, wall, &mut phone_rx, &phone_tx) {
            in_flight.push((now + one_way, false, rr.to_vec()));
        }
        let (due, later): (Vec<_>, Vec<_>) = in_flight
            .into_iter()
            .partition(|(at, _, _)| *at <= now + Duration::from_millis(20));
        in_flight = later;
        for (at, to_phone, datagram) in due {
            let wall_at = epoch + (at - t0);
            if to_phone {
                phone_rtcp.handle_rtcp(at, wall_at, phone_tx.ssrc(), &datagram);
            } else {
                bridge_rtcp.handle_rtcp(at, wall_at, bridge_tx.ssrc(), &datagram);
            }
        }
    }
    let report = bridge_rtcp
        .remote_report()
        .expect("the phone reported on our stream");
    let rtt = report.round_trip.expect("our SR was echoed");
    println!(
        "phone saw {}/256 of our packets lost, cumulative {}, jitter {}; round trip {rtt:?}",
        report.data.fraction_lost, report.data.cumulative_lost, report.data.jitter
    );
    assert!(
        (24..=27).contains(&report.data.fraction_lost),
        "10% ≈ 25/256: {report:?}"
    );
    assert!((rtt.as_secs_f64() - 0.05).abs() < 0.002, "{rtt:?}");
    assert_eq!(bridge_rtcp.malformed() + phone_rtcp.malformed(), 0);
}
