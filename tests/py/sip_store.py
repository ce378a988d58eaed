#!/usr/bin/env python3
"""Creates an inbound trunk or a dispatch rule in livekit-server's SIP store with the official
Python SDK (livekit-api: LiveKitAPI.sip.create_inbound_trunk / create_dispatch_rule), as an
application or `lk sip` would, and prints ONE JSON line with the new object's id:

  {"id": "ST_…"}   or   {"id": "SDR_…"}

Usage: sip_store.py '{"inbound_trunk": <livekit.SIPInboundTrunkInfo as JSON>}'
       sip_store.py '{"dispatch_rule": <livekit.CreateSIPDispatchRuleRequest as JSON>}'
Reads SIPBRIDGE_API_URL (livekit-server's URL here), LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
Field names are the proto's (snake_case or camelCase). Exits 1 with the SDK's error on stderr.
"""

import asyncio
import json
import sys

from google.protobuf import json_format
from livekit import api

from report import lkapi


async def main(order: dict) -> str:
    client = lkapi()
    try:
        if "inbound_trunk" in order:
            trunk = json_format.ParseDict(order["inbound_trunk"], api.SIPInboundTrunkInfo())
            created = await client.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(trunk=trunk)
            )
            return created.sip_trunk_id
        rule = json_format.ParseDict(order["dispatch_rule"], api.CreateSIPDispatchRuleRequest())
        created = await client.sip.create_dispatch_rule(rule)
        return created.sip_dispatch_rule_id
    finally:
        await client.aclose()


if __name__ == "__main__":
    print(json.dumps({"id": asyncio.run(main(json.loads(sys.argv[1])))}), flush=True)
