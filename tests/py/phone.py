#!/usr/bin/env python3
"""A real SIP phone for the end-to-end tests: pjsip's user agent (pjsua2 from PyPI) with a
null sound device, a WAV player as its microphone and a WAV recorder as its speaker.

It calls the given URI (`--uri`), or with `--answer` waits for one call and answers it (180,
then 200 after `--answer-after` seconds), and reports what happens as JSON lines on stdout:

  {"event": "listening", "port": ...}                    (--answer) where to send the INVITE
  {"event": "incoming", "call_id": ..., "from": ..., "unix_ms": ...}  (--answer) an INVITE came

  {"event": "ringing", "code": 180|183, "unix_ms": ..., "call_id": ...}   a provisional response
  {"event": "confirmed", "unix_ms": ..., "call_id": ...} the call is answered
  {"event": "media", "active": true|false}               audio flows (false: on hold)
  {"event": "dtmf", "digit": "5"}                        an RFC 4733 digit from the bridge
  {"event": "tone_start", "hz": ..., "unix_ms": ...}     our tone starts playing
  {"event": "tone", "hz": ..., "rms": ..., "onset_unix_ms": ...}   what "analyze" found
  {"event": "no_tone", "reason": ...}
  {"event": "disconnected", "code": ..., "reason": ...}
  {"event": "done", "cmd": ...}

and executes JSON commands from stdin, one per line:

  {"cmd": "play", "hz": 700}           play a tone into the call from now
  {"cmd": "stop"}                      stop playing
  {"cmd": "analyze", "after_unix_ms": t, "seconds": 1.0}
                                       the first audible second received after t (onset
                                       and dominant frequency), from the recording
  {"cmd": "dtmf", "digits": "159#"}    RFC 4733 digits to the bridge
  {"cmd": "hold"} / {"cmd": "unhold"}  re-INVITE with sendonly / sendrecv
  {"cmd": "hangup"}
  {"cmd": "quit"}
"""

import argparse
import json
import math
import os
import queue
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pjsua2 as pj

from audio import dominant_frequency

# Audio below this RMS (of int16 samples) is silence, as in room_member.py.
SILENCE_RMS = 100.0


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def unix_ms() -> float:
    return round(time.time() * 1000.0, 1)


def write_tone(path: Path, hz: float, rate: int = 16000, seconds: float = 30.0) -> None:
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.3 * 32767 * np.sin(2 * math.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


class Phone(pj.Call):
    def __init__(self, account, state, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.state = state

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_EARLY:
            emit("ringing", code=info.lastStatusCode, unix_ms=unix_ms(), call_id=info.callIdString)
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            emit("confirmed", unix_ms=unix_ms(), call_id=info.callIdString)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            emit("disconnected", code=info.lastStatusCode, reason=info.lastReason)
            self.state["ended"] = True

    def onCallMediaState(self, prm):
        info = self.getInfo()
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            active = media.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if active:
                audio = self.getAudioMedia(media.index)
                self.state["audio"] = audio
                if "recorder" not in self.state:
                    recorder = pj.AudioMediaRecorder()
                    recorder.createRecorder(str(self.state["recording"]))
                    self.state["recorder"] = recorder
                    self.state["recording_started"] = unix_ms()
                audio.startTransmit(self.state["recorder"])
                if "player" in self.state:
                    self.state["player"].startTransmit(audio)
            emit("media", active=active)

    def onDtmfDigit(self, prm):
        emit("dtmf", digit=prm.digit, unix_ms=unix_ms())


class Answering(pj.Account):
    """Takes the first incoming call: rings, then answers it after `delay` seconds."""

    def __init__(self, state, delay: float):
        super().__init__()
        self.state = state
        self.delay = delay

    def onIncomingCall(self, prm):
        try:
            self.take(prm)
        except Exception as error:  # pjsua2 would swallow it; the test must see it
            emit("error", cmd="answer", error=repr(error))

    def take(self, prm):
        call = Phone(self, self.state, prm.callId)
        info = call.getInfo()
        emit("incoming", call_id=info.callIdString, **{"from": info.remoteUri}, unix_ms=unix_ms())
        ringing = pj.CallOpParam()
        ringing.statusCode = 180
        call.answer(ringing)
        self.state["call"] = call
        self.state["answer_at"] = time.time() + self.delay


def analyze(state, after_unix_ms: float, seconds: float) -> None:
    """Finds the first audible audio after `after_unix_ms` in the recording so far."""
    path = state["recording"]
    with open(path, "rb") as file:
        data = file.read()
    # The recorder writes a 44-byte WAV header (sizes filled in at the end) then 16-bit mono PCM.
    rate = state["rate"]
    samples = np.frombuffer(data[44 : 44 + (len(data) - 44) // 2 * 2], dtype=np.int16).astype(np.float64)
    start = max(0, int((after_unix_ms - state["recording_started"]) / 1000.0 * rate))
    frame = rate // 50
    for at in range(start, len(samples) - frame, frame):
        if np.sqrt(np.mean(samples[at : at + frame] ** 2)) >= SILENCE_RMS:
            window = samples[at : at + int(seconds * rate)]
            if len(window) < int(seconds * rate):
                break
            emit("tone", hz=round(dominant_frequency(window, rate), 2), rms=round(float(np.sqrt(np.mean(window**2))), 1),
                 onset_unix_ms=round(state["recording_started"] + at * 1000.0 / rate, 1))
            return
    emit("no_tone", reason=f"no {seconds} s of audible audio after {after_unix_ms}")


def run_command(command, call, state, scratch: Path) -> None:
    name = command["cmd"]
    if name == "play":
        tone = scratch / f"tone-{command['hz']}.wav"
        write_tone(tone, command["hz"])
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(tone))
        state["player"] = player
        if "audio" in state:
            player.startTransmit(state["audio"])
        emit("tone_start", hz=command["hz"], unix_ms=unix_ms())
    elif name == "stop":
        player = state.pop("player", None)
        if player is not None and "audio" in state:
            player.stopTransmit(state["audio"])
    elif name == "analyze":
        analyze(state, command["after_unix_ms"], command.get("seconds", 1.0))
    elif name == "dtmf":
        call.dialDtmf(command["digits"])
    elif name == "hold":
        call.setHold(pj.CallOpParam(True))
    elif name == "unhold":
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        call.reinvite(prm)
    elif name == "hangup":
        call.hangup(pj.CallOpParam(True))
    else:
        raise ValueError(f"unknown command {name!r}")
    emit("done", cmd=name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="whom to call, e.g. sip:+15550116@127.0.0.1:5060")
    parser.add_argument("--answer", action="store_true", help="wait for a call and answer it")
    parser.add_argument("--answer-after", type=float, default=0.5, help="seconds of ringing first")
    parser.add_argument("--from-number", default="+15557770009")
    args = parser.parse_args()

    ep = pj.Endpoint()
    ep.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.clockRate = 16000
    config.medConfig.sndClockRate = 16000
    ep.libInit(config)
    transport = pj.TransportConfig()
    transport.port = 0
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()

    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:{args.from_number}@127.0.0.1"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    scratch = Path(tempfile.mkdtemp(prefix="sipbridge-phone-"))
    state = {"recording": scratch / "heard.wav", "rate": 16000, "ended": False}
    if args.answer:
        account = Answering(state, args.answer_after)
        account.create(account_config)
        emit("listening", port=ep.transportGetInfo(transport_id).localName.split(":")[-1])
        call = None
    else:
        account = pj.Account()
        account.create(account_config)
        call = Phone(account, state)
        call.makeCall(args.uri, pj.CallOpParam(True))

    commands: queue.Queue = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            commands.put(json.loads(line))
        commands.put({"cmd": "quit"})

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        while True:
            ep.libHandleEvents(10)
            if call is None and state.get("answer_at", float("inf")) <= time.time():
                call = state["call"]
                answer = pj.CallOpParam()
                answer.statusCode = 200
                call.answer(answer)
            try:
                command = commands.get_nowait()
            except queue.Empty:
                continue
            if command["cmd"] == "quit":
                break
            if call is None:
                emit("error", cmd=command["cmd"], error="no call yet")
                continue
            try:
                run_command(command, call, state, scratch)
            except Exception as error:  # reported to the test, which fails on it
                emit("error", cmd=command["cmd"], error=repr(error))
    finally:
        if call is not None and not state["ended"]:
            try:
                call.hangup(pj.CallOpParam(True))
                for _ in range(50):
                    ep.libHandleEvents(10)
            except Exception:
                pass
        ep.libDestroy()
    sys.stdout.flush()
    # pjsua2's Python objects (Call, players) assert in their finalizers once the library is
    # destroyed; there is nothing left to clean up, so skip them.
    os._exit(0)


if __name__ == "__main__":
    main()
