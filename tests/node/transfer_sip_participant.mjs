// Transfers a SIP participant (a SIP REFER to its call) through the bridge's Twirp API with
// the official Node server SDK (livekit-server-sdk: SipClient.transferSipParticipant), as an
// application would, and prints ONE JSON line with the outcome:
//
//   {"ok": {}, "elapsed_ms": n}            (the SDK resolves with nothing on success)
//   {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
//    "elapsed_ms": n}
//
// Usage: node transfer_sip_participant.mjs '<request JSON>'
// Reads SIPBRIDGE_API_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.
//
// The request is one object with the snake_case fields of livekit.TransferSIPParticipantRequest:
// room_name, participant_identity, transfer_to, play_dialtone, headers; the ringing timeout as
// whole seconds, ringing_timeout_s; and request_timeout_s, the SDK's own request timeout (not
// a field of the request). An unknown field is a bug of the test, and exits 2.
//
// The error object is made by report.mjs, which says what "class" and "meta" hold (a failed
// transfer's meta also has sip_transfer_reason and sip_transfer_id when the server sent them).
// Exits 0 whatever the API answered; non-zero only when this script cannot do its job.
import { SipClient } from 'livekit-server-sdk';
import { defined, failure, readRequest, report } from './report.mjs';

const started = performance.now();

const r = readRequest([
  'room_name', 'participant_identity', 'transfer_to', 'play_dialtone', 'headers',
  'ringing_timeout_s', 'request_timeout_s',
]);

// TransferSipParticipantOptions; the SDK copies them into a TransferSIPParticipantRequest and
// sends its proto3 JSON (lowerCamelCase names).
const opts = defined({
  playDialtone: r.play_dialtone,
  headers: r.headers,
  // Whole seconds: the SDK makes a Duration of BigInt(seconds), which throws on a fraction.
  ringingTimeout: r.ringing_timeout_s,
  timeout: r.request_timeout_s,
});

const client = new SipClient(
  process.env.SIPBRIDGE_API_URL,
  process.env.LIVEKIT_API_KEY,
  process.env.LIVEKIT_API_SECRET,
);
let line;
try {
  await client.transferSipParticipant(
    r.room_name ?? '',
    r.participant_identity ?? '',
    r.transfer_to ?? '',
    opts,
  );
  line = { ok: {} };
} catch (e) {
  line = { error: failure(e) };
}
report(line, started);
