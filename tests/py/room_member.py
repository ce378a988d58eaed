#!/usr/bin/env python3
"""A LiveKit room member built on the official Python SDK, driven by the end-to-end tests.

It joins a room and, as asked, publishes a sine tone and/or listens for one. It reports what
happened as JSON lines on stdout, one object per event, so the Rust tests can assert on them:

  {"event": "joined", "identity": ..., "join_ms": ...}
  {"event": "published", "hz": ..., "publish_ms": ..., "unix_ms": ...}
  {"event": "tone", "hz": ..., "from": <identity>, "first_audio_ms": ..., "detect_ms": ...}
  {"event": "no_tone", "reason": ...}
  {"event": "dtmf", "from": <identity>, "code": ..., "digit": ...}
  {"event": "data", "from": <identity>, "topic": ..., "text": ..., "reliable": true|false}
  {"event": "attributes", "from": <identity>, "attributes": {...all of them...},
   "name": ..., "metadata": ...}                     (on arrival too, and on joining for
                                                     those already in the room)
  {"event": "left", "identity": ..., "reason": <DisconnectReason name or null>, "attributes": {...}}
  {"event": "subscribing", "identity": ..., "unix_ms": ...}   (--subscribe-after) we ask for
                                                     that participant's audio now
  {"event": "done", "cmd": ...}                      (a stdin command finished)

With --commands it also reads JSON commands from stdin, one per line, and answers each with
"done" (or "error"):

  {"cmd": "dtmf", "digits": "0123"}                  SipDTMF packets, one per digit, in order
  {"cmd": "attributes", "set": {"k": "v"}}           our own attributes
  {"cmd": "data", "text": ..., "topic": ..., "reliable": bool}   a user data packet to everyone
  {"cmd": "remove", "identity": ...}                 RoomService.RemoveParticipant
  {"cmd": "update", "identity": ..., "attributes": {...}}   RoomService.UpdateParticipant
  {"cmd": "delete_room"}                             RoomService.DeleteRoom
  {"cmd": "publish_tone", "hz": 1200}                publish a tone from now ("tone_start" with unix_ms)
  {"cmd": "stop_tone"}
  {"cmd": "rpc", "to": <identity>, "method": ..., "payload": ...}   perform_rpc: "rpc_result"
                                                     with the payload, or "rpc_error" with
                                                     code and message
  {"cmd": "detect_tone", "from": <identity>, "timeout": s}   a fresh "tone" (or "no_tone") from that
                                                     participant's audio track
  {"cmd": "quit"}

Times are milliseconds since the process started connecting.
"""

import argparse
import asyncio
import json
import math
import os
import sys
import time
import warnings

import numpy as np
from livekit import api, rtc

from audio import dominant_frequency

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


async def publish_tone(room: rtc.Room, hz: float, amplitude: float) -> None:
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await room.local_participant.publish_track(track, options)
    emit("published", hz=hz, publish_ms=elapsed_ms(), unix_ms=round(time.time() * 1000.0, 1))
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
            first_audio_unix_ms = round(time.time() * 1000.0, 1)
        collected.append(samples)
        have += len(samples)
        if have >= needed:
            window = np.concatenate(collected)[:needed]
            hz = dominant_frequency(window, SAMPLE_RATE)
            rms = float(np.sqrt(np.mean(window**2)))
            emit("tone", hz=round(hz, 2), rms=round(rms, 1), **{"from": identity},
                 first_audio_ms=first_audio_ms, first_audio_unix_ms=first_audio_unix_ms,
                 detect_ms=elapsed_ms())
            return


# RFC 4733 event codes of the DTMF digits.
DTMF_CODES = {d: i for i, d in enumerate("0123456789*#ABCD")}


def reason_name(value) -> str | None:
    return None if value is None else rtc.DisconnectReason.Name(value)


def emit_attributes(participant) -> None:
    emit("attributes", **{"from": participant.identity}, attributes=dict(participant.attributes),
         name=participant.name, metadata=participant.metadata)


def watch_room(room: rtc.Room) -> None:
    """Reports what other members do: DTMF, attribute changes, departures."""

    @room.on("sip_dtmf_received")
    def on_dtmf(dtmf):
        sender = dtmf.participant.identity if dtmf.participant else None
        emit("dtmf", **{"from": sender}, code=dtmf.code, digit=dtmf.digit)

    @room.on("data_received")
    def on_data(packet):
        sender = packet.participant.identity if packet.participant else None
        reliable = packet.kind == rtc.DataPacketKind.KIND_RELIABLE
        emit("data", **{"from": sender}, topic=packet.topic, text=packet.data.decode(errors="replace"),
             reliable=reliable)

    @room.on("participant_attributes_changed")
    def on_attributes(_changed, participant):
        emit_attributes(participant)

    # A participant may arrive with its attributes already final (no change event follows).
    @room.on("participant_connected")
    def on_connected(participant):
        emit_attributes(participant)

    @room.on("participant_disconnected")
    def on_left(participant):
        emit("left", identity=participant.identity, reason=reason_name(participant.disconnect_reason),
             attributes=dict(participant.attributes))


async def run_commands(room: rtc.Room, args, tracks: dict) -> None:
    """Executes stdin commands until "quit" or end of input. `tracks`: the audio track each
    remote participant published, by identity."""
    publisher = None
    http_url = args.url.replace("ws://", "http://").replace("wss://", "https://")
    async with api.LiveKitAPI(http_url, args.api_key, args.api_secret) as lkapi:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            command = json.loads(line)
            name = command["cmd"]
            try:
                if name == "quit":
                    return
                if name == "dtmf":
                    for digit in command["digits"]:
                        await room.local_participant.publish_dtmf(code=DTMF_CODES[digit], digit=digit)
                elif name == "attributes":
                    await room.local_participant.set_attributes(command["set"])
                elif name == "data":
                    await room.local_participant.publish_data(
                        command["text"], reliable=command["reliable"], topic=command["topic"])
                elif name == "remove":
                    await lkapi.room.remove_participant(
                        api.RoomParticipantIdentity(room=args.room, identity=command["identity"]))
                elif name == "update":
                    await lkapi.room.update_participant(api.UpdateParticipantRequest(
                        room=args.room, identity=command["identity"],
                        attributes=command["attributes"]))
                elif name == "delete_room":
                    await lkapi.room.delete_room(api.DeleteRoomRequest(room=args.room))
                elif name == "publish_tone":
                    # Starts now, so the receiving side can time the tone's arrival.
                    if publisher is not None:
                        publisher.cancel()
                    emit("tone_start", hz=command["hz"], unix_ms=round(time.time() * 1000.0, 1))
                    publisher = asyncio.ensure_future(publish_tone(room, command["hz"], args.amplitude))
                elif name == "rpc":
                    try:
                        answer = await room.local_participant.perform_rpc(
                            destination_identity=command["to"], method=command["method"],
                            payload=command.get("payload", ""))
                        emit("rpc_result", method=command["method"], payload=answer)
                    except rtc.RpcError as error:
                        emit("rpc_error", method=command["method"], code=error.code,
                             message=error.message)
                elif name == "stop_tone":
                    if publisher is not None:
                        publisher.cancel()
                        publisher = None
                elif name == "detect_tone":
                    # A fresh detection (e.g. after an unhold), on the participant's track
                    # once we are subscribed to it (we may have just joined or reconnected).
                    identity = command["from"]

                    async def fresh_detection():
                        while identity not in tracks:
                            await asyncio.sleep(0.05)
                        await detect_tone(tracks[identity], identity)
                    try:
                        await asyncio.wait_for(fresh_detection(), command["timeout"])
                    except asyncio.TimeoutError:
                        emit("no_tone", reason=f"nothing audible from {identity} in {command['timeout']} s")
                else:
                    raise ValueError(f"unknown command {name!r}")
                emit("done", cmd=name)
            except Exception as error:  # reported to the test, which fails on it
                emit("error", cmd=name, error=repr(error))


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
    parser.add_argument("--subscribe-after", type=float, metavar="SECONDS",
                        help="subscribe to each remote audio track only this long after it is "
                             "published (the default subscribes at once, automatically)")
    parser.add_argument("--commands", action="store_true",
                        help="read JSON commands from stdin (see above) until quit")
    args = parser.parse_args()

    token = (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(args.identity)
        .with_grants(api.VideoGrants(room_join=True, room=args.room, can_update_own_metadata=True))
        .to_jwt()
    )
    room = rtc.Room()
    tone_tasks: list[asyncio.Task] = []
    detected = asyncio.get_running_loop().create_future()

    tracks: dict = {}

    @room.on("track_subscribed")
    def on_track(track, _publication, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            tracks[participant.identity] = track
        if args.detect_tone and track.kind == rtc.TrackKind.KIND_AUDIO and not tone_tasks:
            task = asyncio.ensure_future(detect_tone(track, participant.identity))
            task.add_done_callback(lambda t: detected.done() or detected.set_result(t))
            tone_tasks.append(task)

    async def subscribe_later(publication, participant):
        await asyncio.sleep(args.subscribe_after)
        emit("subscribing", identity=participant.identity, unix_ms=round(time.time() * 1000.0, 1))
        publication.set_subscribed(True)

    def on_published(publication, participant):
        if args.subscribe_after is not None and publication.kind == rtc.TrackKind.KIND_AUDIO:
            asyncio.ensure_future(subscribe_later(publication, participant))

    room.on("track_published", on_published)
    watch_room(room)
    auto_subscribe = args.subscribe_after is None
    await room.connect(args.url, token, rtc.RoomOptions(auto_subscribe=auto_subscribe))
    emit("joined", identity=args.identity, join_ms=elapsed_ms())
    # Those who were in the room before us: their attributes as they are now.
    for participant in room.remote_participants.values():
        emit_attributes(participant)
        for publication in participant.track_publications.values():
            on_published(publication, participant)
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

    if args.commands:
        await run_commands(room, args, tracks)
    if args.stay > 0:
        await asyncio.sleep(args.stay)
    if publisher is not None:
        publisher.cancel()
    for task in tone_tasks:
        task.cancel()
    await room.disconnect()
    return status


if __name__ == "__main__":
    exit_status = asyncio.run(main())
    sys.stdout.flush()
    # The SDK's native side sometimes aborts while it is torn down at interpreter exit ("panic
    # in a function that cannot unwind"), turning a successful run into a failed one. Every
    # result is reported and the room left by now, so skip that teardown.
    os._exit(exit_status)
