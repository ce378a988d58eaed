//! The jitter buffer and the mixer on a virtual clock, against scripted networks: loss,
//! bursts, reordering, duplicates, jitter and sender clock drift of ±0.1 %. Every tick must
//! give one frame, delay must stay bounded, and drift must not build up delay or underruns.
//! The delay distribution of each scenario is printed.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sipbridge_media::analysis::{rms, tone_purity};
use sipbridge_media::jitter::{JitterBuffer, JitterLimits, Pop};
use sipbridge_media::mixer::Mixer;
use sipbridge_media::opus::{EncoderSettings, OpusEncoder};
use sipbridge_media::tone::Sine;

const LIMITS: JitterLimits = JitterLimits {
    min_ms: 20,
    max_ms: 120,
};
const BASE_DELAY_MS: f64 = 30.0;

/// A small deterministic generator (xorshift64*), so a failing scenario replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy)]
struct Network {
    name: &'static str,
    loss: f64,
    /// Every `n`th second, lose this many packets in a row.
    burst: Option<u32>,
    duplicate: f64,
    /// Uniform extra delay 0..jitter_ms; above 20 ms it reorders packets.
    jitter_ms: f64,
    /// Sender clock error in parts per million (+1000 = 0.1 % fast).
    drift_ppm: f64,
    seconds: u32,
}

/// (arrival time in ms, sequence number, send time in ms)
fn schedule(net: &Network, rng: &mut Rng) -> Vec<(f64, u64, f64)> {
    let packets = u64::from(net.seconds) * 50;
    let mut arrivals = Vec::new();
    for seq in 0..packets {
        let sent = seq as f64 * 20.0 / (1.0 + net.drift_ppm / 1e6);
        let in_burst = net
            .burst
            .is_some_and(|len| seq % 500 >= 250 && seq % 500 < 250 + u64::from(len));
        if in_burst || rng.next() < net.loss {
            continue;
        }
        let arrival = sent + BASE_DELAY_MS + rng.next() * net.jitter_ms;
        arrivals.push((arrival, seq, sent));
        if rng.next() < net.duplicate {
            arrivals.push((arrival + 3.0, seq, sent));
        }
    }
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    arrivals
}

#[derive(Debug, Default)]
struct Outcome {
    ticks: u64,
    played: u64,
    concealed: u64,
    /// Per played packet: time in the buffer (play time − arrival time), ms.
    buffer_delay: Vec<f64>,
    /// The sequence numbers played, in playing order.
    played_seqs: Vec<u64>,
    /// Played packets that had arrived before the packet played just ahead of them: the
    /// network reordered them and the buffer put them back in order.
    reordered: u64,
    /// Mean buffer delay over the first and the last tenth of the run.
    early_late_delay: (f64, f64),
}

fn run(net: &Network) -> (Outcome, JitterBuffer) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let arrivals = schedule(net, &mut rng);
    let t0 = Instant::now();
    let at = |ms: f64| t0 + Duration::from_micros((ms * 1000.0) as u64);
    let mut jb = JitterBuffer::new(8000, 20, LIMITS);
    let mut out = Outcome::default();
    let mut arrived_at = std::collections::HashMap::new();
    let mut next_arrival = 0;
    // Stop when the sender stops: the stream's end is not an underrun.
    let ticks = u64::from(net.seconds) * 50;
    let mut delays_by_tick = Vec::new();
    for tick in 0..ticks {
        let now_ms = tick as f64 * 20.0;
        while let Some(&(arrival, seq, _)) = arrivals.get(next_arrival) {
            if arrival > now_ms {
                break;
            }
            arrived_at.entry(seq).or_insert(arrival);
            jb.push(
                at(arrival),
                seq,
                (seq * 160) as u32,
                false,
                &[seq as u8; 160],
            );
            next_arrival += 1;
        }
        out.ticks += 1;
        match jb.pop(at(now_ms)) {
            Pop::Packet { seq, payload, .. } => {
                assert_eq!(
                    payload[0], seq as u8,
                    "the payload stored for this sequence number"
                );
                out.played += 1;
                if let Some(previous) = out.played_seqs.last() {
                    out.reordered += u64::from(arrived_at[&seq] < arrived_at[previous]);
                }
                out.played_seqs.push(seq);
                let delay = now_ms - arrived_at[&seq];
                out.buffer_delay.push(delay);
                delays_by_tick.push((tick, delay));
            }
            Pop::Lost { .. } | Pop::Starved => out.concealed += 1,
        }
    }
    let tenth = ticks / 10;
    let mean = |range: std::ops::Range<u64>| {
        let d: Vec<f64> = delays_by_tick
            .iter()
            .filter(|(t, _)| range.contains(t))
            .map(|(_, d)| *d)
            .collect();
        d.iter().sum::<f64>() / d.len().max(1) as f64
    };
    out.early_late_delay = (mean(tenth..2 * tenth), mean(ticks - tenth..ticks));
    (out, jb)
}

/// The networks both tests run on.
fn scenarios() -> [Network; 9] {
    let base = Network {
        name: "",
        loss: 0.0,
        burst: None,
        duplicate: 0.0,
        jitter_ms: 0.0,
        drift_ppm: 0.0,
        seconds: 60,
    };
    [
        Network {
            name: "clean",
            ..base
        },
        Network {
            name: "5% loss",
            loss: 0.05,
            ..base
        },
        Network {
            name: "bursts of 8",
            burst: Some(8),
            ..base
        },
        Network {
            name: "2% duplicates",
            duplicate: 0.02,
            ..base
        },
        Network {
            name: "jitter 40 ms (reorders)",
            jitter_ms: 40.0,
            ..base
        },
        Network {
            name: "jitter 150 ms (beyond max)",
            jitter_ms: 150.0,
            ..base
        },
        Network {
            name: "sender +0.1%",
            drift_ppm: 1000.0,
            seconds: 120,
            ..base
        },
        Network {
            name: "sender -0.1%",
            drift_ppm: -1000.0,
            seconds: 120,
            ..base
        },
        Network {
            name: "everything",
            loss: 0.03,
            burst: Some(5),
            duplicate: 0.02,
            jitter_ms: 30.0,
            drift_ppm: 1000.0,
            seconds: 120,
        },
    ]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn scripted_networks_keep_delay_bounded_and_frames_flowing() {
    let scenarios = scenarios();
    println!(
        "{:<28} {:>7} {:>7} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5} {:>11} {:>9}",
        "network",
        "played",
        "conceal",
        "delay p50",
        "p95",
        "max",
        "late",
        "dup",
        "skip",
        "stretch",
        "reordered"
    );
    for net in &scenarios {
        let (out, jb) = run(net);
        let stats = jb.stats();
        let mut sorted = out.buffer_delay.clone();
        sorted.sort_by(f64::total_cmp);
        let (p50, p95, max) = (
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.95),
            *sorted.last().unwrap(),
        );
        println!(
            "{:<28} {:>7} {:>7} {:>9.1} {:>5.1} {:>5.1} {:>5} {:>5} {:>5} {:>11} {:>9}",
            net.name,
            out.played,
            out.concealed,
            p50,
            p95,
            max,
            stats.late,
            stats.duplicates,
            stats.skipped,
            stats.stretched,
            out.reordered
        );
        // One outcome per tick; every packet played at most once.
        assert_eq!(out.played + out.concealed, out.ticks, "{}", net.name);
        assert_eq!(stats.played, out.played);
        // What was played went out in sequence order: no packet twice (duplicates), none
        // after a later one (reordering).
        if let Some(w) = out.played_seqs.windows(2).find(|w| w[0] >= w[1]) {
            panic!("{}: played {} then {}", net.name, w[0], w[1]);
        }
        // Each scenario's impairment really reached the buffer, and only that one.
        if net.duplicate > 0.0 {
            assert!(stats.duplicates > 0, "{}: {stats:?}", net.name);
        } else {
            assert_eq!(stats.duplicates, 0, "{}: {stats:?}", net.name);
        }
        if net.jitter_ms > 20.0 {
            assert!(out.reordered > 0, "{}: nothing reordered", net.name);
        }
        if net.jitter_ms > f64::from(LIMITS.max_ms) {
            assert!(stats.late > 0, "{}: {stats:?}", net.name);
        }
        if net.jitter_ms == 0.0 {
            assert_eq!(stats.late, 0, "{}: {stats:?}", net.name);
        }
        if net.loss > 0.0 || net.burst.is_some() {
            assert!(stats.lost > 0, "{}: {stats:?}", net.name);
        }
        // Time in the buffer never exceeds the configured maximum plus one packet.
        assert!(
            max <= f64::from(LIMITS.max_ms) + 20.0 + 0.001,
            "{}: max delay {max}",
            net.name
        );
        // Concealment stays in proportion to what the network lost (plus start-up and the
        // drift corrections), so nothing is re-buffered for long.
        let lost_by_network = net.loss + net.burst.map_or(0.0, |b| f64::from(b) / 500.0);
        let concealed = out.concealed as f64 / out.ticks as f64;
        let allowed = lost_by_network * 1.5 + 0.01 + if net.jitter_ms > 120.0 { 0.2 } else { 0.0 };
        assert!(
            concealed <= allowed,
            "{}: concealed {:.1}% > {:.1}%",
            net.name,
            concealed * 100.0,
            allowed * 100.0
        );
        if net.jitter_ms == 0.0 && net.loss == 0.0 && net.burst.is_none() && net.drift_ppm == 0.0 {
            assert_eq!(stats.lost + stats.underruns, 0, "{}: {stats:?}", net.name);
        }
        if net.drift_ppm != 0.0 {
            // Drift of 1 ms/s over two minutes would add or remove 120 ms; the buffer skips
            // or stretches instead, so delay at the end stays near delay at the start.
            let (early, late) = out.early_late_delay;
            assert!(
                (late - early).abs() <= 25.0,
                "{}: delay went {early:.1} → {late:.1} ms",
                net.name
            );
            let corrections = if net.drift_ppm > 0.0 {
                stats.skipped
            } else {
                stats.stretched + stats.underruns
            };
            assert!(corrections >= 3, "{}: {stats:?}", net.name);
        }
    }
}

/// The mixer on the same clock: three members speak, one of them drops out mid-call; every
/// tick yields one frame, the others play on with no gap, and eight full-scale members in
/// phase are limited, not wrapped around.
#[test]
fn mixer_keeps_playing_when_a_track_starves_and_limits_loud_sums() {
    let rate = 8000;
    let t0 = Instant::now();
    let mut mixer = Mixer::new(rate, LIMITS);
    let freqs = [300.0, 700.0, 1100.0];
    let mut members: Vec<_> = freqs
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let key = format!("TR_{i}");
            mixer.add_track(&key).unwrap();
            (
                key,
                Sine::new(f, rate, 6000),
                OpusEncoder::new(rate, EncoderSettings::default()).unwrap(),
            )
        })
        .collect();
    let mut mix = Vec::new();
    for tick in 0..200u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        for (i, (key, tone, enc)) in members.iter_mut().enumerate() {
            // Member 1 stops sending after two seconds.
            if i == 1 && tick >= 100 {
                continue;
            }
            let packet = enc.encode(&tone.frame()).unwrap().to_vec();
            mixer
                .push(now, key, tick, (tick * 960) as u32, &packet)
                .unwrap();
        }
        let frame = mixer.mix(now);
        assert_eq!(frame.len(), 160);
        mix.extend_from_slice(frame);
    }
    let before = &mix[8000..16000];
    let after = &mix[24000..32000];
    let purity = |s: &[i16], f: f64| tone_purity(s, rate, f);
    println!(
        "mix before: {:.2} {:.2} {:.2}; after member 1 left: {:.2} {:.2} {:.2}",
        purity(before, 300.0),
        purity(before, 700.0),
        purity(before, 1100.0),
        purity(after, 300.0),
        purity(after, 700.0),
        purity(after, 1100.0)
    );
    for f in freqs {
        assert!(purity(before, f) > 0.2, "{f} Hz in the three-way mix");
    }
    assert!(purity(after, 700.0) < 0.01, "the silent member is silent");
    assert!(purity(after, 300.0) > 0.35 && purity(after, 1100.0) > 0.35);
    // No gap: every 20 ms of the remaining two members carries sound.
    for frame in mix[16000..].chunks(160) {
        assert!(rms(frame) > 1000.0, "a frame without the other members");
    }

    let mut loud = Mixer::new(rate, LIMITS);
    let mut encoders: Vec<_> = (0..8)
        .map(|_| OpusEncoder::new(rate, EncoderSettings::default()).unwrap())
        .collect();
    let mut tone = Sine::new(400.0, rate, 30_000);
    for i in 0..8 {
        loud.add_track(&format!("TR_{i}")).unwrap();
    }
    let mut out = Vec::new();
    for tick in 0..100u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        let frame = tone.frame();
        for (i, enc) in encoders.iter_mut().enumerate() {
            let packet = enc.encode(&frame).unwrap().to_vec();
            loud.push(now, &format!("TR_{i}"), tick, (tick * 960) as u32, &packet)
                .unwrap();
        }
        out.extend_from_slice(loud.mix(now));
    }
    let steady = &out[4000..];
    let purity = tone_purity(steady, rate, 400.0);
    println!(
        "eight full-scale members: 400 Hz purity {purity:.3}, peak {}",
        steady.iter().map(|s| s.unsigned_abs()).max().unwrap()
    );
    // Wrapped-around sums would scatter power all over the spectrum.
    assert!(purity > 0.9, "{purity}");
}

/// A room member's track through the mixer on the drifting networks (±0.1 %, and everything
/// at once). The member talks: a steady 400 Hz tone, with a 1 kHz pip added to every 25th
/// packet to time the audio by. Every tick must give one full frame, the tone must have no
/// gap the network did not cause, and each pip must come out a bounded time after it was
/// sent, with no build-up from the drift. The delay distribution is printed.
#[test]
fn mixer_track_on_scripted_networks_plays_every_tick_with_bounded_delay() {
    const PIP_EVERY: u64 = 25;
    // Start-up and the stream's end (a fast sender finishes early) are not gaps.
    const EDGE_TICKS: u64 = 25;
    // A 20 ms frame at 8 kHz is 160 samples: 400 Hz and 1 kHz fall on exact Goertzel bins,
    // so each is measured apart from the other. Full level, tone or pip: rms 4243.
    const HEARD: f64 = 1000.0;
    // Under −32 dB: the tone is gone. Opus takes a frame or more to find its level again
    // after any concealment (measured: down to 6 % after a stretch, 1 % after a lost
    // packet), so a lone silent frame may follow any loss; a gap of two frames or more
    // must follow a run of losses.
    const SILENT: f64 = 100.0;
    let rate = 8000;
    let level = |frame: &[i16], hz: f64| tone_purity(frame, rate, hz).sqrt() * rms(frame);
    println!(
        "{:<28} {:>6} {:>9} {:>5} {:>5} {:>5} {:>12} {:>8} {:>6}",
        "network", "pips", "delay p50", "p95", "max", "min", "early→late", "quietest", "silent"
    );
    for net in scenarios().iter().filter(|n| n.drift_ppm != 0.0) {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let arrivals = schedule(net, &mut rng);
        let packets = u64::from(net.seconds) * 50;
        let sent_ms = |seq: u64| seq as f64 * 20.0 / (1.0 + net.drift_ppm / 1e6);
        let mut encoder = OpusEncoder::new(rate, EncoderSettings::default()).unwrap();
        let (mut tone, mut pip) = (Sine::new(400.0, rate, 6000), Sine::new(1000.0, rate, 6000));
        let opus: Vec<Vec<u8>> = (0..packets)
            .map(|seq| {
                let mut frame = tone.frame();
                let pip = pip.frame();
                if seq % PIP_EVERY == 0 {
                    frame.iter_mut().zip(pip).for_each(|(s, p)| *s += p);
                }
                encoder.encode(&frame).unwrap().to_vec()
            })
            .collect();
        let arrived: std::collections::HashSet<u64> = arrivals.iter().map(|a| a.1).collect();
        // Whether the network dropped `len` packets in a row sent in the 400 ms before
        // `now_ms` (their playout time, the run itself, and Opus finding its level again).
        let lost_run_before = |now_ms: f64, len: u64| {
            (0..packets.saturating_sub(len)).any(|s| {
                (0.0..400.0).contains(&(now_ms - sent_ms(s)))
                    && (s..s + len).all(|x| !arrived.contains(&x))
            })
        };

        let t0 = Instant::now();
        let at = |ms: f64| t0 + Duration::from_micros((ms * 1000.0) as u64);
        let mut mixer = Mixer::new(rate, LIMITS);
        mixer.add_track("TR_member").unwrap();
        let mut next_arrival = 0;
        let mut delays = Vec::new(); // (tick, pip delay from sending to playing, ms)
        let (mut pip_was_heard, mut silent_run, mut silent, mut quietest) =
            (false, 0, 0, f64::INFINITY);
        for tick in 0..packets {
            let now_ms = tick as f64 * 20.0;
            while let Some(&(arrival, seq, _)) = arrivals.get(next_arrival) {
                if arrival > now_ms {
                    break;
                }
                let (rtp_time, packet) = ((seq * 960) as u32, &opus[seq as usize]);
                mixer.push(at(arrival), "TR_member", seq, rtp_time, packet);
                next_arrival += 1;
            }
            let frame = mixer.mix(at(now_ms));
            assert_eq!(frame.len(), 160, "{}: one full frame per tick", net.name);
            let pip_heard = level(frame, 1000.0) > HEARD;
            if pip_heard && !pip_was_heard {
                // Nothing plays before it arrives, at least BASE_DELAY_MS after it was sent:
                // the pip heard is the last one sent that long ago.
                let newest_sent = (now_ms - BASE_DELAY_MS) * (1.0 + net.drift_ppm / 1e6) / 20.0;
                let pip = newest_sent as u64 / PIP_EVERY * PIP_EVERY;
                delays.push((tick, now_ms - sent_ms(pip)));
            }
            pip_was_heard = pip_heard;
            if !(EDGE_TICKS..packets - EDGE_TICKS).contains(&tick) {
                continue;
            }
            let tone_level = level(frame, 400.0);
            quietest = quietest.min(tone_level);
            silent_run = if tone_level < SILENT {
                silent_run + 1
            } else {
                0
            };
            silent += u64::from(silent_run > 0);
            assert!(
                silent_run == 0 || lost_run_before(now_ms, silent_run.min(2)),
                "{}: tick {tick} is silent ({tone_level:.0}) with no loss to explain it",
                net.name
            );
        }

        let mut sorted: Vec<f64> = delays.iter().map(|d| d.1).collect();
        sorted.sort_by(f64::total_cmp);
        let (p50, p95) = (percentile(&sorted, 0.5), percentile(&sorted, 0.95));
        let (min, max) = (sorted[0], *sorted.last().unwrap());
        let mean = |range: std::ops::Range<u64>| {
            let d: Vec<f64> = delays
                .iter()
                .filter(|(t, _)| range.contains(t))
                .map(|d| d.1)
                .collect();
            d.iter().sum::<f64>() / d.len().max(1) as f64
        };
        let tenth = packets / 10;
        let (early, late) = (mean(tenth..2 * tenth), mean(packets - tenth..packets));
        println!(
            "{:<28} {:>6} {:>9.1} {:>5.1} {:>5.1} {:>5.1} {:>5.1}→{:<5.1} {:>8.0} {:>6}",
            net.name,
            delays.len(),
            p50,
            p95,
            max,
            min,
            early,
            late,
            quietest,
            silent
        );
        // Most pips were heard (a lost one is often rebuilt from FEC; 92 % with everything
        // at once), so the delays describe the whole run.
        let pips = packets / PIP_EVERY;
        assert!(
            delays.len() as u64 >= pips * 4 / 5,
            "{}: {} of {pips} pips heard",
            net.name,
            delays.len()
        );
        // Sending to playing: the network's delay and jitter, the buffer's hard bound (its
        // maximum and one packet), and a frame for the codec's delay.
        let bound = BASE_DELAY_MS + net.jitter_ms + f64::from(LIMITS.max_ms) + 20.0 + 20.0;
        assert!(
            max <= bound,
            "{}: pip delay {max} ms > {bound} ms",
            net.name
        );
        // Drift of 1 ms/s over two minutes would add or remove 120 ms.
        assert!(
            (late - early).abs() <= 25.0,
            "{}: delay went {early:.1} → {late:.1} ms",
            net.name
        );
    }
}
