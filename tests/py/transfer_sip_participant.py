#!/usr/bin/env python3
"""Transfers a SIP participant (a SIP REFER to its call) through the bridge's Twirp API with the
official Python SDK (livekit-api: LiveKitAPI.sip.transfer_sip_participant), as an application
would, and prints ONE JSON line with the outcome:

  {"ok": {"transfer_id", "status", "reason", "sip_status"}, "elapsed_ms": n}
  {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
   "elapsed_ms": n}

"ok" is the livekit.TransferSIPParticipantResponse with its proto field names: the enums
status (e.g. STS_TRANSFER_SUCCESSFUL) and reason (e.g. STR_COMPLETED, STR_CALL_ENDED) by name
(by number if the SDK does not know it), and sip_status {"code": int, "status": str}, or null
when the response has none.

Usage: transfer_sip_participant.py REQUEST_JSON
Reads SIPBRIDGE_API_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.

The request is the same object as tests/node/transfer_sip_participant.mjs takes: the
snake_case fields of livekit.TransferSIPParticipantRequest (room_name, participant_identity,
transfer_to, play_dialtone, headers), the ringing timeout as seconds ringing_timeout_s, and
request_timeout_s, the SDK's own request timeout. An unknown field is a bug of the test, and
exits 2.

The error object is made by report.py, which says what "class" and "meta" hold; a failed
transfer's meta also has sip_transfer_reason and sip_transfer_id when the server sent them
(the SipCallError properties of the same names read them from there). Exits 0 whatever the
API answered.
"""

import asyncio
import sys
import time

from google.protobuf import json_format
from livekit import api
from livekit.protocol import sip

from report import fail, failure, lkapi, report, request_fields, set_seconds

started = time.monotonic()


def build_request(fields: dict) -> "tuple[api.TransferSIPParticipantRequest, float | None]":
    fields = dict(fields)
    timeout = fields.pop("request_timeout_s", None)
    message = api.TransferSIPParticipantRequest()
    if "ringing_timeout_s" in fields:
        set_seconds(message.ringing_timeout, float(fields.pop("ringing_timeout_s")))
    try:
        # Strict: a field the message does not have is an error, not ignored.
        json_format.ParseDict(fields, message)
    except json_format.ParseError as e:
        fail(f"bad request: {e}")
    return message, timeout


def enum_name(enum, number: int):
    """The enum value's name, or its number if this protocol version does not know it."""
    try:
        return enum.Name(number)
    except ValueError:
        return number


def as_json(response: "api.TransferSIPParticipantResponse") -> dict:
    status = None
    if response.HasField("sip_status"):
        status = {"code": int(response.sip_status.code), "status": response.sip_status.status}
    return {
        "transfer_id": response.transfer_id,
        "status": enum_name(sip.SIPTransferStatus, response.status),
        "reason": enum_name(sip.SIPTransferReason, response.reason),
        "sip_status": status,
    }


async def main(request: "api.TransferSIPParticipantRequest", timeout) -> dict:
    client = lkapi()
    try:
        response = await client.sip.transfer_sip_participant(request, timeout=timeout)
        return {"ok": as_json(response)}
    except Exception as e:  # what the SDK raised is the outcome being reported
        return {"error": failure(e)}
    finally:
        await client.aclose()


def run() -> None:
    if len(sys.argv) != 2:
        fail("usage: transfer_sip_participant.py REQUEST_JSON")
    request, timeout = build_request(request_fields(sys.argv[1]))
    report(asyncio.run(main(request, timeout)), started)


if __name__ == "__main__":
    run()
