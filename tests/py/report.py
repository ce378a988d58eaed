"""What the API scripts of this directory (create_sip_participant.py,
transfer_sip_participant.py) share: reading the one request argument, and printing the one JSON
line that tests/src/api.rs parses:

  {"ok": <what the SDK returned>, "elapsed_ms": n}
  {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
   "elapsed_ms": n}

A request the script cannot make sense of is a bug of the test: it is refused with a message on
stderr and exit status 2, so it never looks like an answer of the API. Both exits go through
os._exit: the SDK's session can abort the interpreter's own exit.
"""

import json
import os
import sys
import time
import warnings

from livekit import api

# The bed uses livekit-server's well-known dev key ("secret"), which PyJWT finds too short.
warnings.filterwarnings("ignore", message="The HMAC key is")

SCRIPT = os.path.basename(sys.argv[0])


def fail(message: str) -> None:
    print(f"{SCRIPT}: {message}", file=sys.stderr, flush=True)
    os._exit(2)


def request_fields(text: str) -> dict:
    """The request of the command line, a JSON object; also checks that the environment names
    the API and its credentials."""
    for name in ("SIPBRIDGE_API_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if not os.environ.get(name):
            fail(f"{name} is not set")
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"the request is not JSON: {e}")
    if not isinstance(fields, dict):
        fail("the request is not a JSON object")
    return fields


def set_seconds(duration, seconds: float) -> None:
    """Sets a google.protobuf.Duration field to `seconds` (fractions kept as nanos)."""
    duration.seconds = int(seconds)
    duration.nanos = round((seconds - int(seconds)) * 1e9)


def lkapi() -> "api.LiveKitAPI":
    """The SDK's client for the API the environment names."""
    return api.LiveKitAPI(
        url=os.environ["SIPBRIDGE_API_URL"],
        api_key=os.environ["LIVEKIT_API_KEY"],
        api_secret=os.environ["LIVEKIT_API_SECRET"],
    )


def failure(e: BaseException) -> dict:
    """What the SDK raised, as the "error" object of the line. "class" is the exception's class
    name: SipCallError (a Twirp error whose meta has sip_status_code, or for a transfer
    sip_transfer_reason), ServerError (any other Twirp error; TwirpError is the same class), or
    what aiohttp raised (ClientConnectorError for a refused connection; TimeoutError when the
    SDK's request timeout fired). "message" is the Twirp error's msg. "meta" is the Twirp
    error's whole meta object."""
    meta = dict(getattr(e, "metadata", None) or {})
    if isinstance(e, api.ServerError):
        code, status, message = e.code, e.status, e.message
    else:
        code, status, message = "", 0, str(e) or repr(e)
    return {
        "class": type(e).__name__,
        "code": code,
        "status": status,
        "sip_status_code": meta.get("sip_status_code"),
        "sip_status": meta.get("sip_status", ""),
        "message": message,
        "meta": meta,
    }


def report(line: dict, started: float) -> None:
    """Prints `line` with the milliseconds since `started` (a time.monotonic()) and exits 0,
    whatever the API answered."""
    line = {**line, "elapsed_ms": round((time.monotonic() - started) * 1000.0)}
    print(json.dumps(line), flush=True)
    os._exit(0)
