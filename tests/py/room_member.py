#!/usr/bin/env python3
"""A LiveKit room member built on the official Python SDK, driven by the end-to-end tests.

It joins a room and, as asked, publishes a sine tone and/or listens for one. It reports what
happened as JSON lines on stdout, one object per event, so the Rust tests can assert on them:

  {"event": "joined", "identity": ..., "join_ms": ...}
  {"event": "published", "hz": ..., "publish_ms": ...}
  {"event": "tone", "hz": ..., "from": <identity>, "first_audio_ms": ..., "detect_ms": ...}
  {"event": "no_tone", "reason": ...}

Times are milliseconds since the process started connecting.
"""

import argparse
import asyncio
import json
import math
import sys
import time
import warnings

import numpy as np
from livekit import api, rtc

SAMPLE_RATE = 48000
FRAME_MS = 20
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000
# Audio below this RMS (of int16 samples) counts as silence, not as the tone arriving.
SILENCE_RMS = 100.0
# Frequency analysis window: 1 s gives 1 Hz bins, refined by parabolic interpolation.
WINDOW_SECONDS = 1.0

started = time.monotonic()

# The bed uses livekit-server's well-known dev key ("secret"), which PyJWT finds too short.
warnings.filterwarnings("ignore", message="The HMAC key is")


def elapsed_ms() -> float:
    return round((time.monotonic() - started) * 1000.0, 1)


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in `samples`, to a fraction of a bin (Hann window + parabola)."""
    windowed = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0
    peak = int(np.argmax(spectrum))
    if 0 < peak < len(spectrum) - 1:
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        offset = 0.5 * (left - right) / (left - 2 * centre + right)
    else:
        offset = 0.0
    return (peak + offset) * rate / len(samples)


async def publish_tone(room: rtc.Room, hz: float, amplitude: float) -> None:
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await room.local_participant.publish_track(track, options)
    emit("published", hz=hz, publish_ms=elapsed_ms())
    phase = 0.0
    step = 2 * math.pi * hz / SAMPLE_RATE
    indices = np.arange(SAMPLES_PER_FRAME)
    while True:
        wave = amplitude * 32767 * np.sin(phase + step * indices)
        phase = (phase + step * SAMPLES_PER_FRAME) % (2 * math.pi)
        frame = rtc.AudioFrame(wave.astype(np.int16).tobytes(), SAMPLE_RATE, 1, SAMPLES_PER_FRAME)
        # capture_frame waits while the source's queue is full, which paces us in real time.
        await source.capture_frame(frame)


async def detect_tone(track: rtc.Track, identity: str) -> None:
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    needed = int(WINDOW_SECONDS * SAMPLE_RATE)
    collected: list[np.ndarray] = []
    have = 0
    first_audio_ms = None
    async for event in stream:
        samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
        if first_audio_ms is None:
            if np.sqrt(np.mean(samples**2)) < SILENCE_RMS:
                continue
            first_audio_ms = elapsed_ms()
        collected.append(samples)
        have += len(samples)
        if have >= needed:
            window = np.concatenate(collected)[:needed]
            hz = dominant_frequency(window, SAMPLE_RATE)
            rms = float(np.sqrt(np.mean(window**2)))
            emit("tone", hz=round(hz, 2), rms=round(rms, 1), **{"from": identity},
                 first_audio_ms=first_audio_ms, detect_ms=elapsed_ms())
            return


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--publish-tone", type=float, metavar="HZ")
    parser.add_argument("--amplitude", type=float, default=0.3)
    parser.add_argument("--detect-tone", action="store_true",
                        help="report the frequency of the first remote audio track")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds after joining to wait for a tone (with --detect-tone)")
    parser.add_argument("--stay", type=float, default=0.0,
                        help="seconds to stay in the room after everything else is done")
    args = parser.parse_args()

    token = (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(args.identity)
        .with_grants(api.VideoGrants(room_join=True, room=args.room))
        .to_jwt()
    )
    room = rtc.Room()
    tone_tasks: list[asyncio.Task] = []
    detected = asyncio.get_running_loop().create_future()

    @room.on("track_subscribed")
    def on_track(track, _publication, participant):
        if args.detect_tone and track.kind == rtc.TrackKind.KIND_AUDIO and not tone_tasks:
            task = asyncio.ensure_future(detect_tone(track, participant.identity))
            task.add_done_callback(lambda t: detected.done() or detected.set_result(t))
            tone_tasks.append(task)

    await room.connect(args.url, token, rtc.RoomOptions(auto_subscribe=True))
    emit("joined", identity=args.identity, join_ms=elapsed_ms())
    joined_at = time.monotonic()

    publisher = None
    if args.publish_tone is not None:
        publisher = asyncio.ensure_future(publish_tone(room, args.publish_tone, args.amplitude))

    status = 0
    if args.detect_tone:
        try:
            await asyncio.wait_for(asyncio.shield(detected), timeout=args.timeout)
            detected.result().result()  # re-raise a failure inside detect_tone
        except asyncio.TimeoutError:
            waited = round(time.monotonic() - joined_at, 1)
            reason = "no remote audio track" if not tone_tasks else "no audible audio"
            emit("no_tone", reason=f"{reason} within {waited} s of joining")
            status = 1

    if args.stay > 0:
        await asyncio.sleep(args.stay)
    if publisher is not None:
        publisher.cancel()
    for task in tone_tasks:
        task.cancel()
    await room.disconnect()
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
