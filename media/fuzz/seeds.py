#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into corpus/<target>/.

Run from anywhere: `python3 media/fuzz/seeds.py`. It only adds or overwrites the files
named `seed-*`; entries the fuzzer found (named by their SHA-1) are left alone. The RTP
packets of /usr/share/sip-tester/dtmf_2833_1.pcap (Debian's sip-tester) are added when
that capture is present.
"""

import math
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CAPTURE = pathlib.Path("/usr/share/sip-tester/dtmf_2833_1.pcap")


def write(target, name, data):
    path = CORPUS / target / f"seed-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


# --- RTP ------------------------------------------------------------------------------

def rtp(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, pad=0):
    first = 0x80 | (0x20 if pad else 0) | (0x10 if ext else 0) | len(csrcs)
    out = struct.pack(">BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    for c in csrcs:
        out += struct.pack(">I", c)
    if ext:
        profile, data = ext
        assert len(data) % 4 == 0
        out += struct.pack(">HH", profile, len(data) // 4) + data
    out += payload
    if pad:
        out += bytes(pad - 1) + bytes([pad])
    return out


def ulaw(sample):
    """G.711 mu-law of a 16-bit sample (ITU-T G.711, as in g711.rs)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(abs(sample), clip) + bias
    exponent = 7
    while exponent > 0 and not sample & (0x4000 >> (7 - exponent)):
        exponent -= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def tone(n, start=0, hz=440.0, rate=8000, amp=8000):
    return bytes(ulaw(int(amp * math.sin(2 * math.pi * hz * (start + i) / rate))) for i in range(n))


def event(code, end, volume, duration):
    return struct.pack(">BBH", code, (0x80 if end else 0) | volume, duration)


def capture_rtp():
    """UDP payloads of an Ethernet/IPv4 little-endian pcap."""
    data = CAPTURE.read_bytes()
    assert struct.unpack_from("<I", data, 0)[0] == 0xA1B2C3D4
    offset, out = 24, []
    while offset + 16 <= len(data):
        incl = struct.unpack_from("<I", data, offset + 8)[0]
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        ip = frame[14:]
        if ip[9] != 17:
            continue
        out.append(ip[(ip[0] & 0x0F) * 4 + 8 :])
    return out


SSRC = 0x1234ABCD
PCMU = [rtp(0, 1000 + i, 160 * i, SSRC, tone(160, 160 * i), marker=i == 0) for i in range(8)]
assert all(len(p) == 172 for p in PCMU)

write("rtp", "pcmu-172", PCMU[0])
write("rtp", "pcma-marker", rtp(8, 65535, 0xFFFFFF60, 7, tone(160, hz=1000), marker=True))
write(
    "rtp",
    "csrc-ext-pad",
    rtp(8, 0x1234, 320, 0x01020304, b"abcdefgh", marker=True,
        csrcs=(100, 101), ext=(0xBEDE, bytes([0x10, 0xAA, 0, 0])), pad=4),
)
write("rtp", "telephone-event", rtp(101, 7, 480, SSRC, event(1, False, 10, 320), marker=True))
write("rtp", "empty-payload", rtp(0, 1, 0, 1, b""))

captured = capture_rtp() if CAPTURE.exists() else []
for i, packet in enumerate(dict.fromkeys(captured)):  # distinct packets, in order
    write("rtp", f"dtmf_2833_1-{i}", packet)

# --- RTCP -----------------------------------------------------------------------------

def report_block(ssrc, fraction, lost, highest, jitter, lsr, dlsr):
    return struct.pack(">IIIIII", ssrc, fraction << 24 | (lost & 0xFFFFFF), highest, jitter, lsr, dlsr)


def rtcp(pt, count, body, pad=0):
    if pad:
        body += bytes(pad - 1) + bytes([pad])
    assert len(body) % 4 == 0
    return struct.pack(">BBH", 0x80 | (0x20 if pad else 0) | count, pt, len(body) // 4) + body


def sdes(ssrc, cname):
    chunk = struct.pack(">IBB", ssrc, 1, len(cname)) + cname + b"\0"
    chunk += bytes(-len(chunk) % 4)
    return rtcp(202, 1, chunk)


BLOCK = report_block(SSRC, 25, -3, 70000, 44, 0x12345678, 65536)
SENDER = struct.pack(">IQIII", 7, (3_913_056_000 << 32) | (1 << 31), 160, 2, 320)
write("rtcp", "sr-sdes", rtcp(200, 1, SENDER + BLOCK) + sdes(7, b"sipbridge@host"))
write("rtcp", "rr", rtcp(201, 1, struct.pack(">I", 7) + BLOCK))
write(
    "rtcp",
    "rr-empty-bye-padded",
    rtcp(201, 0, struct.pack(">I", 9)) + rtcp(203, 2, struct.pack(">II", 9, 10), pad=4),
)
write(
    "rtcp",
    "sr-two-blocks-app",
    rtcp(200, 2, SENDER + BLOCK + report_block(99, 255, 0x7FFFFF, 1, 0, 0, 0))
    + rtcp(204, 0, struct.pack(">I4s", 7, b"name") + b"data"),
)

# --- telephone_event ------------------------------------------------------------------
# Layout (fuzz_targets/telephone_event.rs): 4-byte timestamp, then records of one control
# byte (low 3 bits: 0|1 same timestamp, 2 +160, 3 +last duration, 4 -160, 5 +ctl<<8,
# 6|7 xor ctl<<24; bit 3: 400 ms pause first) and a 4-byte payload.

def te(ts, records):
    return struct.pack(">I", ts) + b"".join(bytes([c]) + p for c, p in records)


write("telephone_event", "block-start", event(1, False, 10, 0))
write("telephone_event", "block-end", event(11, True, 63, 0xFFFF))
key5 = [(0, event(5, False, 10, d)) for d in (160, 320, 480, 640)] + [(0, event(5, True, 10, 800))] * 3
write("telephone_event", "key-5-three-ends", te(0x10000, key5))
write(
    "telephone_event",
    "long-event-segments",
    te(0xFFFFFF00, [(0, event(9, False, 10, 0xFFFF)), (3, event(9, False, 10, 160)), (0, event(9, True, 10, 480))]),
)
write(
    "telephone_event",
    "lost-end-then-next",
    te(4000, [(0, event(2, False, 10, 160)), (0x0A, event(3, False, 10, 160)), (2, event(3, True, 10, 320))]),
)

# --- phone_receiver -------------------------------------------------------------------
# Layout (fuzz_targets/phone_receiver.rs): datagrams with a 2-byte length prefix; bit 15
# = from a second address, bit 14 = same instant as the previous datagram.

def datagrams(items):
    out = b""
    for item in items:
        flags, dgram = item if isinstance(item, tuple) else (0, item)
        out += struct.pack(">H", flags | len(dgram)) + dgram
    return out


write("phone_receiver", "pcmu-stream", datagrams(PCMU))
if captured:
    write("phone_receiver", "dtmf_2833_1", datagrams(captured))
mixed = PCMU[:3] + [
    rtp(101, 1003, 480, SSRC, event(1, False, 10, d), marker=d == 160) for d in (160, 320)
] + [rtp(101, 1005 + i, 480, SSRC, event(1, True, 10, 480)) for i in range(3)] + [
    rtp(0, 1008 + i, 160 * (8 + i), SSRC, tone(160, 160 * (8 + i))) for i in range(2)
]
write("phone_receiver", "pcmu-dtmf", datagrams(mixed))
write(
    "phone_receiver",
    "reorder-foreign-rtcp-ssrc",
    datagrams([
        PCMU[0], (0x4000, PCMU[2]), PCMU[1],
        (0x8000, PCMU[3]),
        rtcp(201, 0, struct.pack(">I", 9)),
        rtp(0, 5, 99999, 0xBEEF, tone(160)), (0x4000, rtp(0, 5, 99999, 0xBEEF, tone(160))),
        rtp(13, 6, 100159, 0xBEEF, b"\x40"),
    ]),
)
