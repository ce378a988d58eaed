// The soak benchmark's API side (tests/benches/soak/): places outbound calls, transfers them
// and deletes their rooms through the official Node server SDK, as an application would, for
// as long as the soak runs. One job per line on stdin, run concurrently as they come; one
// JSON line per finished job on stdout, in the order they finish:
//
//   in:  {"id", "create": <CreateSIPParticipant request>, "transfer": <Transfer request>?,
//         "delete_room_after_ms": n?}
//   out: {"id", "create": {"ok": {...}} | {"error": {...}},
//         "transfer": {"ok": {}} | {"error": {...}} | null, "deleted": bool}
//
// A create request has the snake_case fields sip_call_to, sip_number, room_name,
// participant_identity, wait_until_answered and trunk {hostname, transport}; a transfer
// request room_name, participant_identity and transfer_to. The transfer is asked for once
// the call is answered; the room is deleted (LiveKit's RoomService) `delete_room_after_ms`
// after the call was placed, which ends every call in it from the room's side. Errors are
// report.mjs's error objects. Reads SIPBRIDGE_API_URL, LIVEKIT_URL, LIVEKIT_API_KEY and
// LIVEKIT_API_SECRET. Ends when stdin closes and every job has finished.
import readline from 'node:readline';
import { RoomServiceClient, SipClient } from 'livekit-server-sdk';
import { defined, failure } from './report.mjs';

const [key, secret] = [process.env.LIVEKIT_API_KEY, process.env.LIVEKIT_API_SECRET];
const sip = new SipClient(process.env.SIPBRIDGE_API_URL, key, secret);
const rooms = new RoomServiceClient(
  process.env.LIVEKIT_URL.replace(/^ws/, 'http'),
  key,
  secret,
);
const TRANSPORTS = { udp: 1, tcp: 2 };

async function create(r) {
  const trunk = { hostname: r.trunk.hostname, transport: TRANSPORTS[r.trunk.transport ?? 'udp'] };
  const opts = defined({
    fromNumber: r.sip_number,
    participantIdentity: r.participant_identity,
    waitUntilAnswered: r.wait_until_answered,
  });
  try {
    const info = await sip.createSipParticipant('', r.sip_call_to, r.room_name, opts, trunk);
    return { ok: { participant_identity: info.participantIdentity, sip_call_id: info.sipCallId } };
  } catch (e) {
    return { error: failure(e) };
  }
}

async function transfer(r) {
  try {
    await sip.transferSipParticipant(r.room_name, r.participant_identity, r.transfer_to);
    return { ok: {} };
  } catch (e) {
    return { error: failure(e) };
  }
}

async function run(job) {
  const placed = performance.now();
  const created = await create(job.create);
  const transferred = created.ok && job.transfer ? await transfer(job.transfer) : null;
  let deleted = false;
  if (job.delete_room_after_ms !== undefined) {
    const wait = job.delete_room_after_ms - (performance.now() - placed);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    try {
      await rooms.deleteRoom(job.create.room_name);
      deleted = true;
    } catch (e) {
      process.stderr.write(`soak_api: deleting ${job.create.room_name}: ${e.message}\n`);
    }
  }
  process.stdout.write(
    `${JSON.stringify({ id: job.id, create: created, transfer: transferred, deleted })}\n`,
  );
}

const running = [];
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim()) running.push(run(JSON.parse(line)));
}
await Promise.all(running);
