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
// wait_until_answered, hide_phone_number, display_name, media {codecs [{name, rate}],
// only_listed_codecs}; the two durations as whole seconds,
// ringing_timeout_s and max_call_duration_s; and request_timeout_s, the SDK's own request
// timeout (not a field of the request). Enums (trunk.transport, include_headers) are their
// proto names (SIP_TRANSPORT_UDP, SIP_X_HEADERS), the short transport names (udp, tcp, tls)
// or numbers. An unknown field is a bug of the test, and exits 2.
//
// The error object is made by report.mjs, which says what "class" and "meta" hold. Exits 0
// whatever the API answered; non-zero only when this script cannot do its job.
import { SipClient } from 'livekit-server-sdk';
import { defined, fail, failure, readRequest, report, take } from './report.mjs';

const started = performance.now();

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

const r = readRequest([
  'sip_trunk_id', 'trunk', 'sip_call_to', 'sip_number', 'room_name', 'participant_identity',
  'participant_name', 'participant_metadata', 'participant_attributes', 'headers',
  'include_headers', 'dtmf', 'play_dialtone', 'krisp_enabled', 'wait_until_answered',
  'hide_phone_number', 'display_name', 'ringing_timeout_s', 'max_call_duration_s',
  'request_timeout_s', 'media',
]);

// livekit.SIPMediaConfig, as the SDK's `media` option takes it (lowerCamelCase).
let media;
if (r.media !== undefined) {
  const m = take(r.media, ['codecs', 'only_listed_codecs'], 'media');
  media = defined({ codecs: m.codecs, onlyListedCodecs: m.only_listed_codecs });
}

// The SDK's positional arguments and options (CreateSipParticipantOptions); it copies them
// into a CreateSIPParticipantRequest and sends its proto3 JSON (lowerCamelCase names).
const opts = defined({
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
  media,
});
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
  trunk = defined({
    hostname: t.hostname,
    transport: transport(t.transport),
    authUsername: t.auth_username,
    authPassword: t.auth_password,
    destinationCountry: t.destination_country,
    headersToAttributes: t.headers_to_attributes,
    attributesToHeaders: t.attributes_to_headers,
    fromHost: t.from_host,
  });
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
  line = { error: failure(e) };
}
report(line, started);
