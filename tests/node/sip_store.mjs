// Creates an inbound trunk or a dispatch rule in livekit-server's SIP store with the official
// Node server SDK (livekit-server-sdk: SipClient.createSipInboundTrunk / createSipDispatchRule),
// as an application would, and prints ONE JSON line with the new object's id:
//
//   {"id": "ST_…"}   or   {"id": "SDR_…"}
//
// Usage: node sip_store.mjs '{"inbound_trunk": {"name", "numbers", "allowed_addresses",
//                              "allowed_numbers", "auth_username", "auth_password"}}'
//        node sip_store.mjs '{"dispatch_rule": {"rule": {"type": "direct"|"individual"|"callee",
//                              "room_name"|"room_prefix", "pin"}, "trunk_ids", "attributes",
//                              "metadata", "agents": ["agent name", …]}}'
// Reads SIPBRIDGE_API_URL (livekit-server's URL here), LIVEKIT_API_KEY and LIVEKIT_API_SECRET.
// An unknown field is a bug of the test, and exits 2; the SDK's error exits 1.
import { RoomAgentDispatch, RoomConfiguration, SipClient } from 'livekit-server-sdk';
import { defined, fail, take } from './report.mjs';

if (process.argv.length !== 3) fail('usage: node sip_store.mjs ORDER_JSON');
const order = JSON.parse(process.argv[2]);
const sip = new SipClient(
  process.env.SIPBRIDGE_API_URL,
  process.env.LIVEKIT_API_KEY,
  process.env.LIVEKIT_API_SECRET,
);

async function createTrunk(fields) {
  const t = take(fields, ['name', 'numbers', 'allowed_addresses', 'allowed_numbers',
    'auth_username', 'auth_password'], 'inbound_trunk');
  const trunk = await sip.createSipInboundTrunk(t.name ?? '', t.numbers ?? [], defined({
    allowedAddresses: t.allowed_addresses,
    allowedNumbers: t.allowed_numbers,
    authUsername: t.auth_username,
    authPassword: t.auth_password,
  }));
  return trunk.sipTrunkId;
}

async function createRule(fields) {
  const r = take(fields, ['rule', 'trunk_ids', 'attributes', 'metadata', 'agents'], 'dispatch_rule');
  const kind = take(r.rule ?? {}, ['type', 'room_name', 'room_prefix', 'pin'], 'rule');
  const rule = defined({ type: kind.type, roomName: kind.room_name, roomPrefix: kind.room_prefix, pin: kind.pin });
  const roomConfig = r.agents && new RoomConfiguration({
    agents: r.agents.map((agentName) => new RoomAgentDispatch({ agentName })),
  });
  const created = await sip.createSipDispatchRule(rule, defined({
    trunkIds: r.trunk_ids,
    attributes: r.attributes,
    metadata: r.metadata,
    roomConfig,
  }));
  return created.sipDispatchRuleId;
}

try {
  const [kind] = Object.keys(order);
  if (kind === 'inbound_trunk') console.log(JSON.stringify({ id: await createTrunk(order[kind]) }));
  else if (kind === 'dispatch_rule') console.log(JSON.stringify({ id: await createRule(order[kind]) }));
  else fail(`unknown order ${JSON.stringify(kind)}`);
} catch (e) {
  process.stderr.write(`sip_store.mjs: ${e?.message ?? e}\n`);
  process.exit(1);
}
