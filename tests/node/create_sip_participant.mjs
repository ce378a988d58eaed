// Places an outbound call through the bridge's Twirp API with the official Node server SDK
// (livekit-server-sdk: SipClient.createSipParticipant), as an application would, and prints
// ONE JSON line with the outcome:
//
//   {"ok": {"participant_id", "participant_identity", "room_name", "sip_call_id"}, "elapsed_ms": n}
//   {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
//    "elapsed_ms": n}
//
// Usage: node create_sip_participant.mjs '<request JSON>'
// Reads SIPBRIDGE_API_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment.
//
// The request is one object with the snake_case fields of livekit.CreateSIPParticipantRequest:
// sip_trunk_id, trunk {hostname, transport, auth_username, auth_password, destination_country,
// headers_to_attributes, attributes_to_headers, from_host}, sip_call_to, sip_number,
// room_name, participant_identity, participant_name, participant_metadata,
// participant_attributes, headers, include_headers, dtmf, play_dialtone, krisp_enabled,
// wait_until_answered, hide_phone_number, display_name; the two durations as whole seconds,
// ringing_timeout_s and max_call_duration_s; and request_timeout_s, the SDK's own request
// timeout (not a field of the request). Enums (trunk.transport, include_headers) are their
// proto names (SIP_TRANSPORT_UDP, SIP_X_HEADERS), the short transport names (udp, tcp, tls)
// or numbers. An unknown field is a bug of the test, and exits 2.
//
// "class" is the error's constructor name: SipCallError (a Twirp error whose meta has
// sip_status_code), ServerError (any other Twirp error; TwirpError is the same class), or
// what fetch threw (TypeError "fetch failed" for a refused connection, with the cause in the
// message); a DOMException is named by its name instead (TimeoutError when the SDK's request
// timeout fired). "meta" is the Twirp error's whole meta object. Exits 0 whatever the API
// answered; non-zero only when this script cannot do its job.
import { SipClient } from 'livekit-server-sdk';

const started = performance.now();
const elapsed = () => Math.round(performance.now() - started);

function fail(message) {
  process.stderr.write(`create_sip_participant.mjs: ${message}\n`);
  process.exit(2);
}

const TRANSPORTS = { auto: 0, udp: 1, tcp: 2, tls: 3 };
const HEADER_OPTIONS = { SIP_NO_HEADERS: 0, SIP_X_HEADERS: 1, SIP_ALL_HEADERS: 2 };

function transport(value) {
  if (value === undefined || typeof value === 'number') return value;
  const name = String(value).toLowerCase().replace(/^sip_transport_/, '');
  if (!(name in TRANSPORTS)) fail(`unknown transport ${JSON.stringify(value)}`);
  return TRANSPORTS[name];
}

function headerOptions(value) {
  if (value === undefined || typeof value === 'number') return value;
  if (!(value in HEADER_OPTIONS)) fail(`unknown include_headers ${JSON.stringify(value)}`);
  return HEADER_OPTIONS[value];
}

// Takes the named fields out of `object`; what is left over is a mistake.
function take(object, names, what) {
  const taken = {};
  for (const name of names) {
    if (name in object) taken[name] = object[name];
  }
  const unknown = Object.keys(object).filter((key) => !names.includes(key));
  if (unknown.length) fail(`unknown ${what} field(s): ${unknown.join(', ')}`);
  return taken;
}

if (process.argv.length !== 3) fail('usage: node create_sip_participant.mjs REQUEST_JSON');
let input;
try {
  input = JSON.parse(process.argv[2]);
} catch (e) {
  fail(`the request is not JSON: ${e.message}`);
}
const r = take(
  input,
  [
    'sip_trunk_id', 'trunk', 'sip_call_to', 'sip_number', 'room_name', 'participant_identity',
    'participant_name', 'participant_metadata', 'participant_attributes', 'headers',
    'include_headers', 'dtmf', 'play_dialtone', 'krisp_enabled', 'wait_until_answered',
    'hide_phone_number', 'display_name', 'ringing_timeout_s', 'max_call_duration_s',
    'request_timeout_s',
  ],
  'request',
);
for (const name of ['SIPBRIDGE_API_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET']) {
  if (!process.env[name]) fail(`${name} is not set`);
}

// The SDK's positional arguments and options (CreateSipParticipantOptions); it copies them
// into a CreateSIPParticipantRequest and sends its proto3 JSON (lowerCamelCase names).
const opts = {
  fromNumber: r.sip_number,
  participantIdentity: r.participant_identity,
  participantName: r.participant_name,
  participantMetadata: r.participant_metadata,
  participantAttributes: r.participant_attributes,
  displayName: r.display_name,
  dtmf: r.dtmf,
  playDialtone: r.play_dialtone,
  headers: r.headers,
  includeHeaders: headerOptions(r.include_headers),
  hidePhoneNumber: r.hide_phone_number,
  krispEnabled: r.krisp_enabled,
  waitUntilAnswered: r.wait_until_answered,
  // Whole seconds: the SDK makes a Duration of BigInt(seconds), which throws on a fraction.
  ringingTimeout: r.ringing_timeout_s,
  maxCallDuration: r.max_call_duration_s,
  timeout: r.request_timeout_s,
};
for (const key of Object.keys(opts)) {
  if (opts[key] === undefined) delete opts[key];
}
// The SDK's fifth argument: an inline trunk (livekit.SIPOutboundConfig), instead of or with
// sip_trunk_id.
let trunk;
if (r.trunk !== undefined) {
  const t = take(
    r.trunk,
    [
      'hostname', 'transport', 'auth_username', 'auth_password', 'destination_country',
      'headers_to_attributes', 'attributes_to_headers', 'from_host',
    ],
    'trunk',
  );
  trunk = {
    hostname: t.hostname,
    transport: transport(t.transport),
    authUsername: t.auth_username,
    authPassword: t.auth_password,
    destinationCountry: t.destination_country,
    headersToAttributes: t.headers_to_attributes,
    attributesToHeaders: t.attributes_to_headers,
    fromHost: t.from_host,
  };
  for (const key of Object.keys(trunk)) {
    if (trunk[key] === undefined) delete trunk[key];
  }
}

const client = new SipClient(
  process.env.SIPBRIDGE_API_URL,
  process.env.LIVEKIT_API_KEY,
  process.env.LIVEKIT_API_SECRET,
);
let line;
try {
  const info = await client.createSipParticipant(
    r.sip_trunk_id ?? '',
    r.sip_call_to ?? '',
    r.room_name ?? '',
    opts,
    trunk,
  );
  line = {
    ok: {
      participant_id: info.participantId,
      participant_identity: info.participantIdentity,
      room_name: info.roomName,
      sip_call_id: info.sipCallId,
    },
  };
} catch (e) {
  const meta = e?.metadata ?? {};
  const cause = e?.cause ? ` (${e.cause.code ?? e.cause.message ?? e.cause})` : '';
  line = {
    error: {
      class: e instanceof DOMException ? e.name : (e?.constructor?.name ?? typeof e),
      code: e?.code !== undefined && typeof e.code === 'string' ? e.code : '',
      status: typeof e?.status === 'number' ? e.status : 0,
      sip_status_code: meta.sip_status_code ?? null,
      sip_status: meta.sip_status ?? '',
      message: `${e?.message ?? e}${cause}`,
      meta,
    },
  };
}
line.elapsed_ms = elapsed();
// Writes to a pipe are synchronous on Linux, so exiting at once loses nothing, and no kept-alive
// connection can hold the process open.
process.stdout.write(`${JSON.stringify(line)}\n`);
process.exit(0);
