#!/usr/bin/env python3
"""Writes the seed corpus: the RFC 4475 torture messages from ../shared (beside the project
root) for the message targets, the SDP offers of signaling/testdata/sdp, plus hand-made
sipfrag bodies and digest header values."""
import pathlib

here = pathlib.Path(__file__).resolve().parent
torture = here.parents[2] / "shared" / "testdata" / "rfc4475"

def write(target, name, data):
    path = here / "corpus" / target
    path.mkdir(parents=True, exist_ok=True)
    (path / f"seed-{name}").write_bytes(data)

for dat in sorted(torture.glob("*.dat")):
    data = dat.read_bytes()
    write("message", dat.stem, data)
    # stream_framer: first byte picks the chunk size.
    write("stream_framer", dat.stem, bytes([7]) + b"\r\n\r\n" + data + data)

for name, body in {
    "200": b"SIP/2.0 200 OK\r\n",
    "180-headers": b"SIP/2.0 180 Ringing\r\nContact: <sip:a@b>\r\n\r\n",
    "486-noreason": b"\r\n  SIP/2.0 486\r\n",
    "603-lf": b"SIP/2.0 603 Decline\nReason: x\n",
}.items():
    write("sipfrag", name, body)

for name, value in {
    "challenge-sha256": 'Digest realm="sipbridge", nonce="0123abcd", qop="auth", algorithm=SHA-256, opaque="x"',
    "challenge-md5-stale": 'Digest realm="a b", nonce="n", algorithm=MD5, stale=TRUE, domain="sip:a sip:b"',
    "credentials-qop": 'Digest username="bob", realm="sipbridge", nonce="0123abcd", uri="sip:+15551234567@example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001, opaque="x"',
    "credentials-2069": 'Digest username="a\\"b", realm="r", nonce="n", uri="sip:x", response="00"',
}.items():
    write("digest", name, value.encode())

for offer in sorted((here.parent / "testdata" / "sdp").glob("*.sdp")):
    write("sdp", offer.stem, offer.read_bytes())
