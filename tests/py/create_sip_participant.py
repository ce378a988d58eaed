#!/usr/bin/env python3
"""Places an outbound call through the bridge's Twirp API with the official Python SDK
(livekit-api: LiveKitAPI.sip.create_sip_participant), as an application would, and prints ONE
JSON line with the outcome:

  {"ok": {"participant_id", "participant_identity", "room_name", "sip_call_id"}, "elapsed_ms": n}
  {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
   "elapsed_ms": n}
  {"cancelled": true, "elapsed_ms": n}          (with --cancel-after, if the call was still pending)

Usage: create_sip_participant.py [--cancel-after SECONDS] REQUEST_JSON
Reads SIPBRIDGE_API_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.

The request is the same object as tests/node/create_sip_participant.mjs takes: the snake_case
fields of livekit.CreateSIPParticipantRequest (trunk included), the durations as seconds
ringing_timeout_s and max_call_duration_s, and request_timeout_s, the SDK's own request
timeout. Enums are proto names, numbers, or for trunk.transport udp/tcp/tls. An unknown field
is a bug of the test, and exits 2.

The error object is made by report.py, which says what "class" and "meta" hold.

--cancel-after cancels the pending call after SECONDS, as an application that gives up would
(the task is cancelled, which abandons the HTTP request and closes its connection, then the
client is closed). Exits 0 whatever the API answered, through os._exit: the SDK's session
can abort the interpreter's own exit.
"""

import argparse
import asyncio
import time

from google.protobuf import json_format
from livekit import api

from report import fail, failure, lkapi, report, request_fields, set_seconds

started = time.monotonic()

TRANSPORTS = {"auto": 0, "udp": 1, "tcp": 2, "tls": 3}


def build_request(fields: dict) -> "tuple[api.CreateSIPParticipantRequest, float | None]":
    fields = dict(fields)
    timeout = fields.pop("request_timeout_s", None)
    message = api.CreateSIPParticipantRequest()
    for name, field in (("ringing_timeout_s", "ringing_timeout"),
                        ("max_call_duration_s", "max_call_duration")):
        if name in fields:
            set_seconds(getattr(message, field), float(fields.pop(name)))
    trunk = fields.get("trunk")
    if isinstance(trunk, dict) and isinstance(trunk.get("transport"), str):
        name = trunk["transport"].lower().removeprefix("sip_transport_")
        if name not in TRANSPORTS:
            fail(f"unknown transport {trunk['transport']!r}")
        fields["trunk"] = {**trunk, "transport": TRANSPORTS[name]}
    try:
        # Strict: a field the message does not have is an error, not ignored.
        json_format.ParseDict(fields, message)
    except json_format.ParseError as e:
        fail(f"bad request: {e}")
    return message, timeout


async def main(request: "api.CreateSIPParticipantRequest", timeout, cancel_after) -> dict:
    client = lkapi()
    call = asyncio.ensure_future(client.sip.create_sip_participant(request, timeout=timeout))
    try:
        done, _ = await asyncio.wait({call}, timeout=cancel_after)
        if not done:
            call.cancel()
            try:
                await call
            except asyncio.CancelledError:
                pass
            return {"cancelled": True}
        try:
            info = call.result()
        except Exception as e:  # what the SDK raised is the outcome being reported
            return {"error": failure(e)}
        return {
            "ok": {
                "participant_id": info.participant_id,
                "participant_identity": info.participant_identity,
                "room_name": info.room_name,
                "sip_call_id": info.sip_call_id,
            }
        }
    finally:
        await client.aclose()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cancel-after", type=float, default=None, metavar="SECONDS")
    parser.add_argument("request")
    args = parser.parse_args()
    request, timeout = build_request(request_fields(args.request))
    report(asyncio.run(main(request, timeout, args.cancel_after)), started)


if __name__ == "__main__":
    run()
