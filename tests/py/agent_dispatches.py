#!/usr/bin/env python3
"""Lists the agent dispatches of a room with the official Python SDK (livekit-api:
LiveKitAPI.agent_dispatch.list_dispatch), as an application would, and prints ONE JSON line:

  {"dispatches": [<livekit.AgentDispatch as JSON, proto field names>, ...]}

Usage: agent_dispatches.py ROOM
Reads SIPBRIDGE_API_URL (livekit-server's URL here), LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
Exits 1 with the SDK's error on stderr (a room that does not exist yet is such an error:
livekit-server asks the room's node, and nobody answers).
"""

import asyncio
import json
import sys

from google.protobuf import json_format

from report import lkapi


async def main(room: str) -> list:
    client = lkapi()
    try:
        dispatches = await client.agent_dispatch.list_dispatch(room_name=room)
        return [json_format.MessageToDict(d, preserving_proto_field_name=True) for d in dispatches]
    finally:
        await client.aclose()


if __name__ == "__main__":
    print(json.dumps({"dispatches": asyncio.run(main(sys.argv[1]))}), flush=True)
