// What the API scripts of this directory (create_sip_participant.mjs,
// transfer_sip_participant.mjs) share: reading the one request argument, and printing the one
// JSON line that tests/src/api.rs parses:
//
//   {"ok": <what the SDK returned>, "elapsed_ms": n}
//   {"error": {"class", "code", "status", "sip_status_code", "sip_status", "message", "meta"},
//    "elapsed_ms": n}
//
// A request the script cannot make sense of is a bug of the test: it is refused with a message
// on stderr and exit status 2, so it never looks like an answer of the API.
import path from 'node:path';

const script = path.basename(process.argv[1] ?? 'script');

export function fail(message) {
  process.stderr.write(`${script}: ${message}\n`);
  process.exit(2);
}

// Takes the named fields out of `object`; what is left over is a mistake.
export function take(object, names, what) {
  const taken = {};
  for (const name of names) {
    if (name in object) taken[name] = object[name];
  }
  const unknown = Object.keys(object).filter((key) => !names.includes(key));
  if (unknown.length) fail(`unknown ${what} field(s): ${unknown.join(', ')}`);
  return taken;
}

// The request of the command line (its one argument, a JSON object), with only the fields
// `names`; also checks that the environment names the API and its credentials.
export function readRequest(names) {
  if (process.argv.length !== 3) fail(`usage: node ${script} REQUEST_JSON`);
  let input;
  try {
    input = JSON.parse(process.argv[2]);
  } catch (e) {
    fail(`the request is not JSON: ${e.message}`);
  }
  const request = take(input, names, 'request');
  for (const name of ['SIPBRIDGE_API_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET']) {
    if (!process.env[name]) fail(`${name} is not set`);
  }
  return request;
}

// `object` without its undefined members, so the SDK applies its own defaults for them.
export function defined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

// What the SDK threw, as the "error" object of the line. "class" is the error's constructor
// name: SipCallError (a Twirp error whose meta has sip_status_code), ServerError (any other
// Twirp error; TwirpError is the same class), or what fetch threw (TypeError "fetch failed"
// for a refused connection, with the cause in the message); a DOMException is named by its
// name instead (TimeoutError when the SDK's request timeout fired). "meta" is the Twirp
// error's whole meta object.
export function failure(e) {
  const meta = e?.metadata ?? {};
  const cause = e?.cause ? ` (${e.cause.code ?? e.cause.message ?? e.cause})` : '';
  return {
    class: e instanceof DOMException ? e.name : (e?.constructor?.name ?? typeof e),
    code: e?.code !== undefined && typeof e.code === 'string' ? e.code : '',
    status: typeof e?.status === 'number' ? e.status : 0,
    sip_status_code: meta.sip_status_code ?? null,
    sip_status: meta.sip_status ?? '',
    message: `${e?.message ?? e}${cause}`,
    meta,
  };
}

// Prints `line` with the milliseconds since `started` and exits 0, whatever the API answered.
export function report(line, started) {
  const out = { ...line, elapsed_ms: Math.round(performance.now() - started) };
  // Writes to a pipe are synchronous on Linux, so exiting at once loses nothing, and no
  // kept-alive connection can hold the process open.
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}
